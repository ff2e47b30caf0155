"""Finding the calling device for a message after Authenticate: one locked, indexed lookup.

The row lock serialises concurrent requests of one device (a check-in racing a connect,
two connects), so a command is never handed out twice nor after its final status.
"""
from __future__ import annotations

from sqlalchemy import bindparam, select, update

from espalier.models import EnrolledDevice, EnrolledUser

from . import identity as ident
from .errors import Unrecognized
from .messages import Channel

_LOCK_DEVICE = select(EnrolledDevice).where(EnrolledDevice.udid == bindparam("udid")).with_for_update()
# An Idle connect starts a session: one UPDATE ... RETURNING locks, stamps and loads the row.
_START_SESSION = (update(EnrolledDevice).where(EnrolledDevice.udid == bindparam("b_udid"))
                  .values(session_started_at=bindparam("b_now"), last_seen_at=bindparam("b_now"))
                  .returning(EnrolledDevice))


def enrolled_device(ctx, channel: Channel, identity: ident.Identity, *, start_session: bool = False
                    ) -> EnrolledDevice:
    """The calling device, locked. ``start_session`` also stamps session_started_at and
    last_seen_at in the same statement (a failed check below rolls it back)."""
    if start_session:
        device = ctx.s.scalar(_START_SESSION, {"b_udid": channel.udid, "b_now": ctx.now},
                              execution_options={"synchronize_session": False})
    else:
        device = ctx.s.scalar(_LOCK_DEVICE, {"udid": channel.udid})
    if device is None:
        raise Unrecognized("unknown device")
    ident.check_binding(ctx.s, device, identity)
    if device.is_blocked:
        raise Unrecognized("device is blocked")
    return device


def enrolled_user(ctx, device: EnrolledDevice, channel: Channel) -> EnrolledUser | None:
    if channel.user_id is None:
        return None
    return ctx.s.scalar(select(EnrolledUser).where(
        EnrolledUser.enrolled_device_id == device.id, EnrolledUser.user_id == channel.user_id))
