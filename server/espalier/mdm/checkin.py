"""The check-in protocol: one function per MessageType, each returning a reply body or None.

https://developer.apple.com/documentation/devicemanagement/check-in
Messages arrive decoded (``messages``) from a caller whose certificate is trusted
(``identity``). ``authenticate`` decides whether the certificate may speak for the UDID
and binds it; every other message goes through ``lookup.enrolled_device``, which checks
that binding.
"""
from __future__ import annotations

import logging

from sqlalchemy import Boolean, DateTime, bindparam, case, func, insert, null, select, update
from sqlalchemy.exc import IntegrityError

from espalier.db import HotStatement
from espalier.models import EnrolledDevice, EnrolledUser, EnrollmentSession, OtaEnrollment
from espalier.models.convergence_epoch import MARKS
from espalier.pki.secrets import row_context

from . import blocking, ddm, enrollment, inventory, lookup
from . import identity as ident
from .errors import Declined, IdentityError, ParseError, Unrecognized
from .identity import Identity
from .messages import (Authenticate, CheckinMessage, CheckOut, DeclarativeManagement, GetBootstrapToken,
                       SetBootstrapToken, TokenUpdate, UserAuthenticate, dump)
from .platforms import platform_for

log = logging.getLogger(__name__)

_DEVICES, _SESSIONS = EnrolledDevice.__table__, EnrollmentSession.__table__
# Authenticate locks the claimed UDID's row and reads what the claim and the platform need,
# then writes the device and the session, all on the driver's cursor (nothing reads them back
# in the request; the ORM's INSERT would name all of the device's 60-odd columns)
_CLAIMED = HotStatement(select(_DEVICES.c.id, _DEVICES.c.cert_fingerprint, _DEVICES.c.enrolled_at,
                               _DEVICES.c.checkout_at, _DEVICES.c.released_at, _DEVICES.c.product_name,
                               _DEVICES.c.model)
                        .where(_DEVICES.c.udid == bindparam("udid")).with_for_update())
# What the message reports (one it lacks keeps the row's value) and what the enrollment sets.
_REPORTED = ("serial_number", "os_version", "build_version", "product_name", "name", "model", "platform")
_SET = ("user_enrollment", "topic", "enrollment_id", "dep_enrollment_id", "dep_enrollment", "push_certificate_id",
        "blueprint_id", *ident.BINDING)
_INSERT_DEVICE = HotStatement(insert(_DEVICES).values(
    **{name: bindparam(name) for name in ("udid", *_REPORTED, *_SET)}, declarative_management=False,
    created_at=bindparam("now"), updated_at=bindparam("now")).returning(_DEVICES.c.id))
# A re-enrollment keeps the row (and its history) but no token of the old enrollment; it
# clears the convergence marks (which the session events do not see a Core UPDATE change)
_FORGOTTEN = ("push_token", "push_magic", "unlock_token", "bootstrap_token", "push_token_invalid_at",
              "push_token_error", "enrolled_at", "awaiting_configuration", "account_configuration_queued_at",
              "device_configured_queued_at", "declarations_token", "declarations_token_queued", "checkout_at", *MARKS)
_UPDATE_DEVICE = HotStatement(update(_DEVICES).where(_DEVICES.c.id == bindparam("b_id")).values(
    **{name: func.coalesce(bindparam(name), _DEVICES.c[name]) for name in _REPORTED},
    **{name: bindparam(name) for name in _SET}, **dict.fromkeys(_FORGOTTEN, null()), declarative_management=False,
    updated_at=bindparam("now")))
_BIND_SESSION = HotStatement(update(_SESSIONS).where(_SESSIONS.c.id == bindparam("b_id")).values(
    enrolled_device_id=bindparam("device_id"), udid=bindparam("udid"),
    serial_number=func.coalesce(bindparam("serial_number"), _SESSIONS.c.serial_number), updated_at=bindparam("now")))


def authenticate(ctx, msg: Authenticate, identity: Identity) -> None:
    """Authenticate: create or refresh the device and bind the certificate to it."""
    udid = msg.channel.udid
    origin = ident.certificate_origin(ctx.s, identity, enrollment.session_token(identity.certificate.subject),
                                      udid, msg.serial_number)
    if origin is None:  # the blocked check was asked with the origin; without one, ask it alone
        if blocking.is_blocked(ctx.s, udid, msg.serial_number):
            raise Unrecognized("device is blocked")
        raise IdentityError("the certificate belongs to no enrollment")
    if origin.blocked:
        raise Unrecognized("device is blocked")
    session = origin.session
    if session.attested_serial_number and msg.serial_number and msg.serial_number != session.attested_serial_number:
        raise IdentityError("SerialNumber differs from the one the device attested")
    enrollment_row = session.source
    pc = enrollment_row.push_certificate
    if pc is not None and msg.topic != pc.topic:
        raise ParseError(f"Topic {msg.topic!r} is not this enrollment's push topic")
    device = _CLAIMED.one_or_none(ctx.s, {"udid": udid})
    ident.authorize_claim(udid, identity, origin, device)
    values = {**_device_values(msg, session, enrollment_row, device, identity), "udid": udid, "now": ctx.now}
    try:
        if device is None:
            if enrollment_row.quota is not None:
                _within_quota(ctx.s.connection(), enrollment_row)
            device_id = _INSERT_DEVICE.one_or_none(ctx.s, values).id
        else:
            device_id = device.id
            _UPDATE_DEVICE.execute(ctx.s, {**values, "b_id": device_id})
    except IntegrityError:  # a concurrent Authenticate bound this certificate or UDID first
        log.warning("Authenticate for %s with certificate %s lost a race for the UDID or the certificate", udid,
                    identity.fingerprint[:16])
        raise IdentityError("another Authenticate claimed this device or certificate at the same time") from None
    _BIND_SESSION.execute(ctx.s, {"b_id": session.id, "device_id": device_id, "udid": udid,
                                  "serial_number": msg.serial_number or None, "now": ctx.now})
    log.info("device %s (%s) authenticated for enrollment %s", udid, msg.serial_number, enrollment_row.id)
    return None


_ENROLLMENTS = OtaEnrollment.__table__
_QUOTA_LOCK = select(_ENROLLMENTS.c.id).where(_ENROLLMENTS.c.id == bindparam("id")).with_for_update()
_ENROLLED = select(func.count(_DEVICES.c.id)).where(_DEVICES.c.enrollment_id == bindparam("id"))


def _within_quota(conn, enrollment_row) -> None:
    """A new device of an enrollment with a quota: counted under the enrollment row's lock, so
    that new devices enrolling at once count one after the other (none beyond the quota)."""
    conn.execute(_QUOTA_LOCK, {"id": enrollment_row.id})
    if conn.execute(_ENROLLED, {"id": enrollment_row.id}).scalar() >= enrollment_row.quota:
        raise Declined(f"enrollment {enrollment_row.name!r} reached its quota")


def _device_values(msg: Authenticate, session, enrollment_row, device, identity: Identity) -> dict:
    """The device's columns as this Authenticate sets them: ``_REPORTED`` (None: the message
    lacks it, the row keeps its value) and ``_SET``."""
    values = {field: value or None for field, value in (
        ("serial_number", msg.serial_number), ("os_version", msg.os_version), ("build_version", msg.build_version),
        ("product_name", msg.product_name), ("name", msg.device_name), ("model", msg.product_name or msg.model))}
    values["platform"] = platform_for(values["product_name"] or (device and device.product_name),
                                      values["model"] or (device and device.model)) or None
    return {**values, "user_enrollment": msg.channel.user_enrollment, "topic": msg.topic,
            "enrollment_id": session.enrollment_id, "dep_enrollment_id": session.dep_enrollment_id,
            "dep_enrollment": session.dep_enrollment_id is not None,
            "push_certificate_id": enrollment_row.push_certificate_id, "blueprint_id": enrollment_row.blueprint_id,
            **ident.binding(identity)}


# The device channel's TokenUpdate, one UPDATE on the driver's cursor: the tokens (an unlock
# token or AwaitingConfiguration the message lacks keeps its value) and, at the enrollment's
# first one (no enrolled_at yet), the enrollment time, the inventory stamp and no marks
# (enrolled_at is a DEVICE_SCOPE column, which the session events do not see Core change).
_FIRST = _DEVICES.c.enrolled_at.is_(None)
_NOW = bindparam("now", type_=DateTime)
_TOKEN_UPDATE = HotStatement(update(_DEVICES).where(_DEVICES.c.id == bindparam("b_id")).values(
    push_token=bindparam("push_token"), push_magic=bindparam("push_magic"), push_token_invalid_at=null(),
    push_token_error=null(), unlock_token=func.coalesce(bindparam("unlock_token"), _DEVICES.c.unlock_token),
    awaiting_configuration=func.coalesce(bindparam("awaiting_configuration", type_=Boolean),
                                         _DEVICES.c.awaiting_configuration),
    last_seen_at=_NOW, updated_at=_NOW, enrolled_at=func.coalesce(_DEVICES.c.enrolled_at, _NOW),
    inventory_queued_at=case((_FIRST, _NOW), else_=_DEVICES.c.inventory_queued_at),
    **{mark: case((_FIRST, null()), else_=_DEVICES.c[mark]) for mark in MARKS}))


def token_update(ctx, msg: TokenUpdate, identity: Identity) -> None:
    """TokenUpdate: push token and magic (device or user channel); the first one completes enrollment."""
    if msg.channel.user_id:
        device = lookup.enrolled_device(ctx, msg.channel, identity)
        user = lookup.enrolled_user(ctx, device, msg.channel)
        if user is None:
            user = EnrolledUser(enrolled_device_id=device.id, user_id=msg.channel.user_id)
            ctx.s.add(user)
        user.short_name = msg.user_short_name or user.short_name
        user.long_name = msg.user_long_name or user.long_name
        user.push_token, user.push_magic, user.last_seen_at = msg.token.hex(), msg.push_magic, ctx.now
        return None
    row = lookup.locked_row(ctx, msg.channel, identity)
    unlock = (ctx.secrets.encrypt(msg.unlock_token, row_context(_DEVICES.name, "unlock_token", row.id))
              if msg.unlock_token else None)  # sealed as SecretBox.seal binds it: to the row's id
    _TOKEN_UPDATE.execute(ctx.s, {"b_id": row.id, "push_token": msg.token.hex(), "push_magic": msg.push_magic,
                                  "unlock_token": unlock, "awaiting_configuration": msg.awaiting_configuration,
                                  "now": ctx.now})
    if row.enrolled_at is None:
        inventory.add_commands_of(ctx, row)
        # a device held in Setup Assistant gets DeviceConfigured after its blueprint's first
        # artifacts: the last scheduling step (mdm/await_configuration.py)
        ctx.pushes.add(row.id)
        log.info("device %s enrolled", row.udid)
    return None


def check_out(ctx, msg: CheckOut, identity: Identity) -> None:
    """CheckOut: the MDM profile was removed."""
    device = lookup.enrolled_device(ctx, msg.channel, identity)
    device.checkout_at = ctx.now
    device.push_token = device.push_magic = None
    log.info("device %s checked out", device.udid)
    return None


def set_bootstrap_token(ctx, msg: SetBootstrapToken, identity: Identity) -> None:
    """SetBootstrapToken: escrow (or, when empty, delete) the bootstrap token."""
    device = lookup.enrolled_device(ctx, msg.channel, identity)
    ctx.secrets.seal(device, "bootstrap_token", msg.bootstrap_token)
    if msg.awaiting_configuration is not None:
        device.awaiting_configuration = msg.awaiting_configuration
    return None


def get_bootstrap_token(ctx, msg: GetBootstrapToken, identity: Identity) -> bytes:
    """GetBootstrapToken: the escrowed token, or empty data when there is none."""
    device = lookup.enrolled_device(ctx, msg.channel, identity)
    return dump({"BootstrapToken": ctx.secrets.open(device, "bootstrap_token") or b""})


def user_authenticate(ctx, msg: UserAuthenticate, identity: Identity) -> bytes:
    """UserAuthenticate: declined (410) unless user channels are enabled; then no digest auth."""
    if not ctx.config.user_channels:
        raise Declined("user channels are not enabled")
    lookup.enrolled_device(ctx, msg.channel, identity)
    if msg.digest_response is not None:
        raise Declined("digest authentication is not supported")
    return dump({"DigestChallenge": ""})


HANDLERS = {
    Authenticate: authenticate,
    TokenUpdate: token_update,
    CheckOut: check_out,
    SetBootstrapToken: set_bootstrap_token,
    GetBootstrapToken: get_bootstrap_token,
    UserAuthenticate: user_authenticate,
    DeclarativeManagement: ddm.handle,
}


def handle(ctx, msg: CheckinMessage, identity: Identity) -> bytes | None:
    return HANDLERS[type(msg)](ctx, msg, identity)
