"""Finding the calling device for a message after Authenticate: one locked, indexed lookup.

The row lock serialises concurrent requests of one device (a check-in racing a connect,
two connects), so a command is never handed out twice nor after its final status.
"""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from espalier.models import EnrolledDevice, EnrolledUser

from . import identity as ident
from .errors import Unrecognized
from .messages import Channel


def is_blocked(s: Session, udid: str | None, serial_number: str | None) -> bool:
    """A blocked UDID, or a blocked device with the same serial number (re-imaged, new UDID)."""
    match = []
    if udid:
        match.append(EnrolledDevice.udid == udid)
    if serial_number:
        match.append(EnrolledDevice.serial_number == serial_number)
    if not match:
        return False
    return s.scalar(select(EnrolledDevice.id).where(EnrolledDevice.blocked_at.is_not(None), or_(*match))
                    .limit(1)) is not None


def enrolled_device(ctx, channel: Channel, identity: ident.Identity) -> EnrolledDevice:
    device = ctx.s.scalar(select(EnrolledDevice).where(EnrolledDevice.udid == channel.udid).with_for_update())
    if device is None:
        raise Unrecognized("unknown device")
    ident.check_binding(ctx.s, device, identity)
    if device.blocked_at is not None:
        raise Unrecognized("device is blocked")
    return device


def enrolled_user(ctx, device: EnrolledDevice, channel: Channel) -> EnrolledUser | None:
    if channel.user_id is None:
        return None
    return ctx.s.scalar(select(EnrolledUser).where(
        EnrolledUser.enrolled_device_id == device.id, EnrolledUser.user_id == channel.user_id))
