"""The convergence epoch: one counter that moves in the transaction of every change to what
profile convergence and the DDM step read beyond a device's own rows, so that a device which
found nothing to do at epoch N skips those reads while the epoch is still N (its marks:
``converged_epoch``, mdm/convergence.py; ``declarations_epoch`` with its UTC day, mdm/ddm.py).

Kept here, by session events, rather than by each service:
- every ORM flush that adds, changes or deletes a row of a ``WATCHED`` model (blueprints,
  artifacts, versions, profiles, declarations, blueprint artifacts, tags, machine tags,
  FileVault and recovery password configurations, software update enforcements and the
  update catalogue), and every bulk INSERT, UPDATE or DELETE on their tables or on
  ``device_artifacts``, bumps the epoch (which also keys the blueprints cached for Idle
  connects, mdm/blueprint_cache.py);
- a flush that changes a ``DEVICE_SCOPE`` column of a device (what it is scoped by, and the
  DDM tokens) clears its marks in the same UPDATE;
- a flush that writes a device's artifact rows (a result, a ProfileList, a DDM status
  report, a licence) or its software update state clears its marks, except while
  convergence itself writes them for the device it is evaluating (``evaluating``: that mark
  is stale anyway, and marks only grow);
- a bulk UPDATE of ``enrolled_devices`` through a session that sets a ``DEVICE_SCOPE`` column
  clears the marks of the rows it updates (a Core statement on the connection, as the
  Idle connect's own, is not seen: it must not set them).

The bump is ``UPDATE ... SET value = value + 1``, sent just before the transaction commits:
its row lock orders concurrent changes by commit, so an epoch a connect reads is never newer
than the data it then reads, and it is held for the commit only.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, bindparam, event, inspect, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key
from sqlalchemy.orm.attributes import flag_modified, set_committed_value

from .base import Base, IntPk, Mapped, mapped_column
from .blueprints import Artifact, ArtifactVersion, Blueprint, BlueprintArtifact, Declaration, DeviceArtifact, Profile
from .devices import EnrolledDevice
from .security_configs import FileVaultConfig, RecoveryPasswordConfig
from .software_updates import (BlueprintSoftwareUpdateEnforcement, DeviceSoftwareUpdate, SoftwareUpdate,
                               SoftwareUpdateDeviceID, SoftwareUpdateEnforcement, SoftwareUpdateEnforcementTag)
from .tags import MachineTag, Tag


class ConvergenceEpoch(Base):
    __tablename__ = "convergence_epoch"

    id: Mapped[IntPk]  # one row, id 1 (written by its migration)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


# What convergence and the DDM step read beyond the device (configurations: read with the blueprint)
WATCHED = (Artifact, ArtifactVersion, Blueprint, BlueprintArtifact, Profile, Declaration, MachineTag, Tag,
           FileVaultConfig, RecoveryPasswordConfig, SoftwareUpdate, SoftwareUpdateDeviceID, SoftwareUpdateEnforcement,
           SoftwareUpdateEnforcementTag, BlueprintSoftwareUpdateEnforcement)
WATCHED_TABLES = frozenset(m.__tablename__ for m in WATCHED) | {DeviceArtifact.__tablename__}
# A device's rows that clear its marks when written (keyed by enrolled_device_id)
DEVICE_ROWS = (DeviceArtifact, DeviceSoftwareUpdate)
DEVICE_SCOPE = ("udid", "serial_number", "platform", "os_version", "build_version", "blueprint_id", "enrolled_at",
                "supervised", "user_enrollment", "declarations_token", "declarations_token_queued")
MARKS = ("converged_epoch", "declarations_epoch")

_EPOCH = ConvergenceEpoch.__table__.c
CURRENT = select(_EPOCH.value).where(_EPOCH.id == 1)
_BUMP = update(ConvergenceEpoch.__table__).where(_EPOCH.id == 1).values(value=_EPOCH.value + 1)


_DEVICES = EnrolledDevice.__table__.c
_CLEAR = update(EnrolledDevice.__table__).where(
    _DEVICES.id.in_(bindparam("device_ids", expanding=True)),
    or_(*(_DEVICES[m].is_not(None) for m in MARKS))).values(**dict.fromkeys(MARKS))
_EVALUATING = "espalier.convergence_epoch.evaluating"  # session.info: device ids


_PENDING = "espalier.convergence_epoch.pending"  # session.info: a bump due at commit


def bump(session: Session) -> None:
    """Move the epoch with this transaction: at its commit, so that the epoch row's lock, which
    orders concurrent changes, is held for the commit alone rather than from the first change
    (admin transactions would queue behind each other). In autocommit (a read session) now."""
    connection = session.connection()
    if getattr(connection.connection.dbapi_connection, "autocommit", None) is True:
        connection.execute(_BUMP)
    else:
        session.info[_PENDING] = True


@event.listens_for(Session, "before_commit")
def _committing(session: Session) -> None:  # also at a savepoint's release: early, never lost
    session.flush()  # commit flushes after this event: see those changes first
    if session.info.pop(_PENDING, False):
        session.connection().execute(_BUMP)


def evaluating(session: Session, device_id: int) -> None:
    """Convergence is evaluating this device, whose mark it read is not the current epoch:
    its own writes of the device's rows in this transaction clear nothing."""
    session.info.setdefault(_EVALUATING, set()).add(device_id)


def mark(session: Session, device_id: int, **marks) -> None:
    """A step found nothing to do for this device: its ``MARKS`` columns (and their companions)."""
    session.execute(update(EnrolledDevice.__table__).where(_DEVICES.id == device_id).values(**marks))
    if "converged_epoch" in marks:
        session.info.get(_EVALUATING, set()).discard(device_id)
    device = session.identity_map.get(identity_key(EnrolledDevice, device_id))
    if device is not None:
        for name, value in marks.items():
            set_committed_value(device, name, value)


def _clear(session: Session, device_ids: set[int]) -> None:
    unloaded = []
    for device_id in device_ids - session.info.get(_EVALUATING, set()):
        device = session.identity_map.get(identity_key(EnrolledDevice, device_id))
        if device is None:
            unloaded.append(device_id)
        else:
            attrs = inspect(device).attrs
            for name in MARKS:
                if attrs[name].loaded_value is not None:  # a mark, or not loaded
                    setattr(device, name, None)
    if unloaded:
        session.connection().execute(_CLEAR, {"device_ids": unloaded})


@event.listens_for(Session, "before_flush")
def _flushed(session: Session, flush_context, instances) -> None:
    moved, rows_of = False, set()
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, DEVICE_ROWS):
            rows_of.add(obj.enrolled_device_id)
        moved = moved or isinstance(obj, WATCHED)
    for obj in session.dirty:
        if isinstance(obj, EnrolledDevice):
            attrs = inspect(obj).attrs
            if any(attrs[a].history.has_changes() for a in DEVICE_SCOPE):
                for name in MARKS:
                    setattr(obj, name, None)
                    flag_modified(obj, name)  # even over a mark written by Core
        elif isinstance(obj, DEVICE_ROWS):
            if session.is_modified(obj, include_collections=False):
                rows_of.add(obj.enrolled_device_id)
        elif not moved and isinstance(obj, WATCHED) and session.is_modified(obj, include_collections=False):
            moved = True
    rows_of.discard(None)
    if rows_of:
        _clear(session, rows_of)
    if moved:
        bump(session)


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_EVALUATING, None)
        session.info.pop(_PENDING, None)  # rolled back: nothing to bump


@event.listens_for(Session, "do_orm_execute")
def _bulk(state) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if table is not None and table.name in WATCHED_TABLES:
        bump(state.session)
    elif state.is_update and table is not None and table.name == EnrolledDevice.__tablename__:
        _bulk_device_update(state)


def _bulk_device_update(state) -> None:
    """A bulk UPDATE of ``enrolled_devices`` that sets a ``DEVICE_SCOPE`` column clears the
    marks of the devices it updates: in the same statement, or, for an UPDATE by primary key
    (a list of rows with their ids), in one more."""
    params = state.parameters
    rows = params if isinstance(params, list) else [params] if params else []
    # the SET clause's keys: SQLAlchemy keeps a statement's .values() only privately
    keys = {getattr(key, "key", key) for key in getattr(state.statement, "_values", None) or ()}
    keys.update(key for row in rows for key in row)  # by primary key, rows may set different columns
    clear = [m for m in MARKS if m not in keys]
    if not clear or keys.isdisjoint(DEVICE_SCOPE):
        return
    if isinstance(params, list) and all("id" in row for row in params):
        state.session.connection().execute(_CLEAR, {"device_ids": [row["id"] for row in params]})
    else:
        state.statement = state.statement.values(**dict.fromkeys(clear))
