"""The check-in protocol: one function per MessageType, each returning a reply body or None.

https://developer.apple.com/documentation/devicemanagement/check-in
Identity is resolved before these run; ``authenticate`` binds the certificate, every other
message goes through ``lookup.enrolled_device`` which checks that binding.
"""
from __future__ import annotations

import logging

from sqlalchemy import func, select

from espalier.models import EnrolledDevice, EnrolledUser

from . import identity as ident
from . import inventory, lookup, queue
from .enrollment import session_for_certificate
from .errors import Declined, IdentityError, ParseError, Unrecognized
from .identity import Identity
from .messages import bool_value, bytes_value, channel_of, dump, str_value
from .platforms import platform_for

log = logging.getLogger(__name__)

UNLOCK_TOKEN = "enrolled_devices.unlock_token"
BOOTSTRAP_TOKEN = "enrolled_devices.bootstrap_token"


def authenticate(ctx, msg: dict, identity: Identity) -> None:
    """Authenticate: create or refresh the device, bind the certificate to it."""
    channel = channel_of(msg)
    if channel.user_id:
        raise ParseError("Authenticate is sent on the device channel")
    serial = str_value(msg, "SerialNumber", 64)
    if lookup.is_blocked(ctx.s, channel.udid, serial):
        raise Unrecognized("device is blocked")
    ident.ensure_unbound_elsewhere(ctx.s, channel.udid, identity)
    session = session_for_certificate(ctx.s, identity)
    if session is None:
        raise IdentityError("the certificate belongs to no enrollment")
    enrollment = session.enrollment
    topic = str_value(msg, "Topic")
    if enrollment.push_certificate is not None and topic != enrollment.push_certificate.topic:
        raise ParseError(f"Topic {topic!r} is not this enrollment's push topic")
    device = ctx.s.scalar(select(EnrolledDevice).where(EnrolledDevice.udid == channel.udid).with_for_update())
    if device is None:
        if enrollment.quota is not None and ctx.s.scalar(select(func.count(EnrolledDevice.id)).where(
                EnrolledDevice.enrollment_id == enrollment.id)) >= enrollment.quota:
            raise Declined(f"enrollment {enrollment.name!r} reached its quota")
        device = EnrolledDevice(udid=channel.udid)
        ctx.s.add(device)
    else:
        _forget_previous_enrollment(device)
    device.serial_number = serial or device.serial_number
    for key, field, limit in (("OSVersion", "os_version", 32), ("BuildVersion", "build_version", 32),
                              ("ProductName", "product_name", 64), ("DeviceName", "name", 256)):
        value = str_value(msg, key, limit)
        if value:
            setattr(device, field, value)
    model = str_value(msg, "ProductName", 64) or str_value(msg, "Model", 64)
    if model:
        device.model = model
    device.platform = platform_for(device.product_name, device.model) or device.platform
    device.user_enrollment = channel.user_enrollment
    device.topic = topic
    device.enrollment_id = enrollment.id
    device.push_certificate_id = enrollment.push_certificate_id
    device.blueprint_id = enrollment.blueprint_id
    device.checkout_at = None
    ident.bind(device, identity)
    ctx.s.flush()
    session.enrolled_device_id = device.id
    session.udid, session.serial_number = channel.udid, serial or session.serial_number
    log.info("device %s (%s) authenticated for enrollment %s", channel.udid, serial, enrollment.id)
    return None


def _forget_previous_enrollment(device: EnrolledDevice) -> None:
    """Re-enrollment keeps the row (and its history) but no token of the old enrollment."""
    device.push_token = device.push_magic = device.unlock_token = device.bootstrap_token = None
    device.push_token_invalid_at = device.push_token_error = None
    device.enrolled_at = None
    device.awaiting_configuration = None
    device.declarative_management = False


def token_update(ctx, msg: dict, identity: Identity) -> None:
    """TokenUpdate: push token and magic (device or user channel); the first one completes enrollment."""
    channel = channel_of(msg)
    device = lookup.enrolled_device(ctx, channel, identity)
    token = bytes_value(msg, "Token", 1024)
    magic = str_value(msg, "PushMagic", 256)
    if not token or not magic:
        raise ParseError("TokenUpdate needs Token and PushMagic")
    if channel.user_id:
        user = lookup.enrolled_user(ctx, device, channel)
        if user is None:
            user = EnrolledUser(enrolled_device_id=device.id, user_id=channel.user_id)
            ctx.s.add(user)
        user.short_name = str_value(msg, "UserShortName") or user.short_name
        user.long_name = str_value(msg, "UserLongName") or user.long_name
        user.push_token, user.push_magic, user.last_seen_at = token.hex(), magic, ctx.now
        return None
    device.push_token, device.push_magic = token.hex(), magic
    device.push_token_invalid_at = device.push_token_error = None
    unlock = bytes_value(msg, "UnlockToken", 64 * 1024)
    if unlock:
        device.unlock_token = ctx.secrets.encrypt(unlock, UNLOCK_TOKEN)
    awaiting = bool_value(msg, "AwaitingConfiguration")
    if awaiting is not None:
        device.awaiting_configuration = awaiting
    device.last_seen_at = ctx.now
    if device.enrolled_at is None:
        device.enrolled_at = ctx.now
        ctx.s.flush()
        inventory.queue_inventory(ctx, device)
        if device.awaiting_configuration:
            # Setup Assistant waits for this; queued after the inventory so nothing else is pending.
            queue.add_command(ctx.s, ctx.secrets, device.id, "DeviceConfigured", {})
        ctx.pushes.add(device.id)
        log.info("device %s enrolled", device.udid)
    return None


def check_out(ctx, msg: dict, identity: Identity) -> None:
    """CheckOut: the MDM profile was removed."""
    device = lookup.enrolled_device(ctx, channel_of(msg), identity)
    device.checkout_at = ctx.now
    device.push_token = device.push_magic = None
    log.info("device %s checked out", device.udid)
    return None


def set_bootstrap_token(ctx, msg: dict, identity: Identity) -> None:
    """SetBootstrapToken: escrow (or, when empty, delete) the bootstrap token."""
    device = lookup.enrolled_device(ctx, channel_of(msg), identity)
    token = bytes_value(msg, "BootstrapToken", 64 * 1024)
    device.bootstrap_token = ctx.secrets.encrypt(token, BOOTSTRAP_TOKEN) if token else None
    awaiting = bool_value(msg, "AwaitingConfiguration")
    if awaiting is not None:
        device.awaiting_configuration = awaiting
    return None


def get_bootstrap_token(ctx, msg: dict, identity: Identity) -> bytes:
    """GetBootstrapToken: the escrowed token, or empty data when there is none."""
    device = lookup.enrolled_device(ctx, channel_of(msg), identity)
    token = ctx.secrets.decrypt(device.bootstrap_token, BOOTSTRAP_TOKEN) if device.bootstrap_token else b""
    return dump({"BootstrapToken": token})


def user_authenticate(ctx, msg: dict, identity: Identity) -> bytes:
    """UserAuthenticate: declined (410) unless user channels are enabled; then no digest auth."""
    if not ctx.user_channels:
        raise Declined("user channels are not enabled")
    lookup.enrolled_device(ctx, channel_of(msg), identity)
    if msg.get("DigestResponse") is not None:
        raise Declined("digest authentication is not supported")
    return dump({"DigestChallenge": ""})


HANDLERS = {
    "Authenticate": authenticate,
    "TokenUpdate": token_update,
    "CheckOut": check_out,
    "SetBootstrapToken": set_bootstrap_token,
    "GetBootstrapToken": get_bootstrap_token,
    "UserAuthenticate": user_authenticate,
}


def handle(ctx, msg: dict, identity: Identity) -> bytes | None:
    message_type = msg.get("MessageType")
    handler = HANDLERS.get(message_type) if isinstance(message_type, str) else None
    if handler is None:
        raise ParseError(f"unsupported MessageType {str(message_type)[:64]!r}")
    return handler(ctx, msg, identity)
