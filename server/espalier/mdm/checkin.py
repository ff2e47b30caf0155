"""The check-in protocol: one function per MessageType, each returning a reply body or None.

https://developer.apple.com/documentation/devicemanagement/check-in
Messages arrive decoded (``messages``) from a caller whose certificate is trusted
(``identity``). ``authenticate`` decides whether the certificate may speak for the UDID
and binds it; every other message goes through ``lookup.enrolled_device``, which checks
that binding.
"""
from __future__ import annotations

import logging

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError

from espalier.models import EnrolledDevice, EnrolledUser

from . import blocking, ddm, enrollment, inventory, lookup
from . import identity as ident
from .errors import Declined, IdentityError, ParseError, Unrecognized
from .identity import Identity
from .messages import (Authenticate, CheckinMessage, CheckOut, DeclarativeManagement, GetBootstrapToken,
                       SetBootstrapToken, TokenUpdate, UserAuthenticate, dump)
from .platforms import platform_for

log = logging.getLogger(__name__)

_DEVICE_LOCKED = select(EnrolledDevice).where(EnrolledDevice.udid == bindparam("udid")).with_for_update()


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
    device = ctx.s.scalar(_DEVICE_LOCKED, {"udid": udid})
    ident.authorize_claim(udid, identity, origin, device)
    if device is None:
        if enrollment_row.quota is not None and ctx.s.scalar(select(func.count(EnrolledDevice.id)).where(
                EnrolledDevice.enrollment_id == enrollment_row.id)) >= enrollment_row.quota:
            raise Declined(f"enrollment {enrollment_row.name!r} reached its quota")
        device = EnrolledDevice(udid=udid)
        ctx.s.add(device)
    else:
        _forget_previous_enrollment(device)
    device.serial_number = msg.serial_number or device.serial_number
    for value, field in ((msg.os_version, "os_version"), (msg.build_version, "build_version"),
                         (msg.product_name, "product_name"), (msg.device_name, "name")):
        if value:
            setattr(device, field, value)
    if msg.product_name or msg.model:
        device.model = msg.product_name or msg.model
    device.platform = platform_for(device.product_name, device.model) or device.platform
    device.user_enrollment = msg.channel.user_enrollment
    device.topic = msg.topic
    device.enrollment_id, device.dep_enrollment_id = session.enrollment_id, session.dep_enrollment_id
    device.dep_enrollment = session.dep_enrollment_id is not None
    device.push_certificate_id = enrollment_row.push_certificate_id
    device.blueprint_id = enrollment_row.blueprint_id
    device.checkout_at = None
    ident.bind(device, identity)
    try:
        ctx.s.flush()
    except IntegrityError:  # a concurrent Authenticate bound this certificate or UDID first
        log.warning("Authenticate for %s with certificate %s lost a race for the UDID or the certificate", udid,
                    identity.fingerprint[:16])
        raise IdentityError("another Authenticate claimed this device or certificate at the same time") from None
    session.enrolled_device_id = device.id
    session.udid, session.serial_number = udid, msg.serial_number or session.serial_number
    log.info("device %s (%s) authenticated for enrollment %s", udid, msg.serial_number, enrollment_row.id)
    return None


def _forget_previous_enrollment(device: EnrolledDevice) -> None:
    """Re-enrollment keeps the row (and its history) but no token of the old enrollment."""
    device.push_token = device.push_magic = device.unlock_token = device.bootstrap_token = None
    device.push_token_invalid_at = device.push_token_error = None
    device.enrolled_at = None
    device.awaiting_configuration = None
    device.account_configuration_queued_at = device.device_configured_queued_at = None
    device.declarative_management = False
    device.declarations_token = device.declarations_token_queued = None


def token_update(ctx, msg: TokenUpdate, identity: Identity) -> None:
    """TokenUpdate: push token and magic (device or user channel); the first one completes enrollment."""
    device = lookup.enrolled_device(ctx, msg.channel, identity)
    if msg.channel.user_id:
        user = lookup.enrolled_user(ctx, device, msg.channel)
        if user is None:
            user = EnrolledUser(enrolled_device_id=device.id, user_id=msg.channel.user_id)
            ctx.s.add(user)
        user.short_name = msg.user_short_name or user.short_name
        user.long_name = msg.user_long_name or user.long_name
        user.push_token, user.push_magic, user.last_seen_at = msg.token.hex(), msg.push_magic, ctx.now
        return None
    device.push_token, device.push_magic = msg.token.hex(), msg.push_magic
    device.push_token_invalid_at = device.push_token_error = None
    if msg.unlock_token:
        ctx.secrets.seal(device, "unlock_token", msg.unlock_token)
    if msg.awaiting_configuration is not None:
        device.awaiting_configuration = msg.awaiting_configuration
    device.last_seen_at = ctx.now
    if device.enrolled_at is None:
        device.enrolled_at = ctx.now
        inventory.queue_inventory(ctx, device)
        # a device held in Setup Assistant gets DeviceConfigured after its blueprint's first
        # artifacts: the last scheduling step (mdm/await_configuration.py)
        ctx.pushes.add(device.id)
        log.info("device %s enrolled", device.udid)
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
