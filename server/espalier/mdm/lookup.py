"""Finding the calling device for a message after Authenticate: one locked, indexed lookup
(for an Idle connect, ``start_session`` and ``session_work``: the hot path's two statements).

The row lock serialises concurrent requests of one device (a check-in racing a connect,
two connects), so a command is never handed out twice nor after its final status.
"""
from __future__ import annotations

from sqlalchemy import and_, bindparam, exists, select, update

from espalier.db import HotStatement
from espalier.models import Blueprint, DeviceArtifact, DeviceCommand, EnrolledDevice, EnrolledUser, StoreApp
from espalier.models import convergence_epoch

from . import identity as ident
from . import queue
from .errors import Unrecognized
from .messages import Channel

_DEVICES = EnrolledDevice.__table__.c
# What an Idle connect needs to decide whether it has work: the binding, the block, the
# inventory schedule, what convergence scopes on, and the DDM sync tokens.
SESSION_COLUMNS = ("id", "udid", "serial_number", "platform", "os_version", "blueprint_id", "cert_fingerprint",
                   "blocked_at", "enrolled_at", "last_inventory_at", "inventory_queued_at",
                   "declarations_token", "declarations_token_queued",
                   # the FileVault and recovery password steps (mdm/filevault.py, mdm/recovery_password.py)
                   "apple_silicon", "filevault_profile_token", "filevault_prk_escrowed_at", "filevault_prk_revealed_at",
                   "recovery_password_updated_at", "pending_recovery_password_at",
                   # Setup Assistant held by ADE (mdm/await_configuration.py)
                   "awaiting_configuration",
                   # the epoch at which profile convergence, then the DDM step, last found nothing to do
                   "converged_epoch", "declarations_epoch", "declarations_epoch_on")
# An Idle connect starts a session: one Core UPDATE ... RETURNING locks, stamps and reads the row.
_START_SESSION = HotStatement(
    update(EnrolledDevice.__table__).where(_DEVICES.udid == bindparam("b_udid"))
    .values(session_started_at=bindparam("b_now"), last_seen_at=bindparam("b_now"), updated_at=bindparam("b_now"))
    .returning(*(_DEVICES[name] for name in SESSION_COLUMNS)))


_COMMANDS, _ARTIFACT_ROWS, _BLUEPRINTS, _STORE_APPS = (DeviceCommand.__table__.c, DeviceArtifact.__table__.c,
                                                       Blueprint.__table__.c, StoreApp.__table__.c)
# Then what the session has to do, in one statement: the next command's id, whether the
# device has artifact rows (convergence) and store apps (mdm/store_apps.py), its blueprint's
# inventory interval, the convergence epoch. Not folded into
# the UPDATE: that statement's snapshot predates the row lock, so it could hand out a command
# a concurrent connect of the same device had just handed out.
# The device locked, and whether it holds store apps (the store app step's question, asked
# here so that a report ending a session costs no statement of its own for it).
_LOCK_DEVICE = (select(EnrolledDevice, exists().where(
    _ARTIFACT_ROWS.enrolled_device_id == EnrolledDevice.id, _ARTIFACT_ROWS.status != "removed",
    _STORE_APPS.artifact_version_id == _ARTIFACT_ROWS.artifact_version_id).label("holds_store_apps"))
    .where(EnrolledDevice.udid == bindparam("udid")).with_for_update(of=EnrolledDevice))
_SESSION_WORK = HotStatement(select(
    select(_COMMANDS.id).where(*queue.deliverable(_COMMANDS, False))
    .order_by(_COMMANDS.created_at, _COMMANDS.id).limit(1).scalar_subquery().label("command_id"),
    exists().where(_ARTIFACT_ROWS.enrolled_device_id == bindparam("device_id")).label("has_artifacts"),
    exists().where(_ARTIFACT_ROWS.enrolled_device_id == bindparam("device_id"), _ARTIFACT_ROWS.status != "removed",
                   _STORE_APPS.artifact_version_id == _ARTIFACT_ROWS.artifact_version_id).label("has_store_apps"),
    select(_BLUEPRINTS.inventory_interval).where(_BLUEPRINTS.id == bindparam("blueprint_id"))
    .scalar_subquery().label("inventory_interval"),
    convergence_epoch.CURRENT.scalar_subquery().label("epoch")))


# A report on the device channel: the device locked, the convergence epoch (read before
# anything convergence reads, as in ``session_work``) and the command it reports on, one statement.
_LOCK_REPORTING_DEVICE = (_LOCK_DEVICE.add_columns(convergence_epoch.CURRENT.scalar_subquery().label("epoch"),
                                                   DeviceCommand)
                          .outerjoin(DeviceCommand, and_(*queue.reported_by(EnrolledDevice.id))))


def enrolled_device(ctx, channel: Channel, identity: ident.Identity) -> EnrolledDevice:
    """The calling device, locked."""
    found = ctx.s.execute(_LOCK_DEVICE, {"udid": channel.udid}).first()
    return _checked(ctx, found, identity)


def reporting_device(ctx, channel: Channel, identity: ident.Identity,
                     command_uuid: str | None) -> tuple[EnrolledDevice, DeviceCommand | None]:
    """The calling device, locked, and the command its device channel reports on (None: not
    one of this device channel's); ``ctx.epoch`` is set, so the session's steps may skip."""
    found = ctx.s.execute(_LOCK_REPORTING_DEVICE, {"udid": channel.udid, "uuid": command_uuid}).first()
    device = _checked(ctx, found[:2] if found else None, identity)
    ctx.epoch = found[2]
    return device, found[3]


def _checked(ctx, found, identity: ident.Identity) -> EnrolledDevice:
    if not found:
        raise Unrecognized("unknown device")
    device, ctx.holds_store_apps = found
    ident.check_binding(ctx.s, device, identity)
    if device.is_blocked:
        raise Unrecognized("device is blocked")
    return device


def start_session(ctx, channel: Channel, identity: ident.Identity):
    """An Idle connect of the device channel: the device row locked and stamped
    (session_started_at, last_seen_at), read as ``SESSION_COLUMNS`` without loading the ORM
    object; the same checks as ``enrolled_device`` (a failed one rolls the stamp back)."""
    row = _START_SESSION.one_or_none(ctx.s, {"b_udid": channel.udid, "b_now": ctx.now})
    if row is None:
        raise Unrecognized("unknown device")
    if row.cert_fingerprint != identity.fingerprint:  # a renewal, or another certificate
        ident.check_binding(ctx.s, loaded(ctx, row), identity)
    if row.blocked_at is not None:
        raise Unrecognized("device is blocked")
    return row


def session_work(ctx, row):
    """(command_id, has_artifacts, has_store_apps, inventory_interval, epoch) for a session row: its next
    command at the start of a session, whether convergence has rows to look at, its blueprint's interval,
    the convergence epoch (read before anything convergence reads, so never newer than that)."""
    now = ctx.now
    return _SESSION_WORK.one_or_none(ctx.s, {"device_id": row.id, "blueprint_id": row.blueprint_id,
                                             "session_started_at": now, "now": now,
                                             "in_flight_since": now - queue.IN_FLIGHT})


# A TokenUpdate of the device channel: the row locked and read for the binding, the block and
# what the first TokenUpdate's inventory commands need; mdm/checkin.py writes it with one UPDATE.
TOKEN_COLUMNS = ("id", "udid", "cert_fingerprint", "blocked_at", "enrolled_at", "platform", "user_enrollment",
                 "blueprint_id")
_LOCK_ROW = HotStatement(select(*(_DEVICES[name] for name in TOKEN_COLUMNS))
                         .where(_DEVICES.udid == bindparam("udid")).with_for_update())


def locked_row(ctx, channel: Channel, identity: ident.Identity):
    """The calling device, locked, read as ``TOKEN_COLUMNS`` without loading the ORM object;
    the checks of ``enrolled_device`` (a renewal binds the ORM device, flushed at commit)."""
    row = _LOCK_ROW.one_or_none(ctx.s, {"udid": channel.udid})
    if row is None:
        raise Unrecognized("unknown device")
    if row.cert_fingerprint != identity.fingerprint:
        ident.check_binding(ctx.s, loaded(ctx, row), identity)
    if row.blocked_at is not None:
        raise Unrecognized("device is blocked")
    return row


def loaded(ctx, row) -> EnrolledDevice:
    """The ORM device of a session row (already locked by this transaction)."""
    return ctx.s.get(EnrolledDevice, row.id)


def enrolled_user(ctx, device: EnrolledDevice, channel: Channel) -> EnrolledUser | None:
    if channel.user_id is None:
        return None
    return ctx.s.scalar(select(EnrolledUser).where(
        EnrolledUser.enrolled_device_id == device.id, EnrolledUser.user_id == channel.user_id))
