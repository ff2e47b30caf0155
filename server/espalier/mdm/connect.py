"""The command protocol: store the reported result, answer the next command or nothing.

https://developer.apple.com/documentation/devicemanagement/sending-mdm-commands-to-a-device
Status moves only forward: a report for an unknown or already final command is ignored,
NotNow leaves the command queued (offered again at the next session), Acknowledged and
Error are final. A result that cannot be processed still finalises the command, so it
never blocks the queue.
"""
from __future__ import annotations

import base64
import logging
from datetime import datetime, timedelta
from typing import Any

from espalier.models import DeviceCommand

from . import commands, inventory, lookup, queue
from .errors import ParseError, Unrecognized
from .identity import Identity
from .messages import channel_of, dump, str_value

log = logging.getLogger(__name__)

STATUSES = ("Idle", "Acknowledged", "Error", "CommandFormatError", "NotNow")
_IDENTITY_KEYS = {"UDID", "EnrollmentID", "UserID", "EnrollmentUserID", "Status", "CommandUUID", "ErrorChain",
                  "UserShortName", "UserLongName"}
LAST_SEEN_RESOLUTION = timedelta(seconds=30)


def connect(ctx, msg: dict, identity: Identity) -> bytes | None:
    channel = channel_of(msg)
    status = msg.get("Status")
    if status not in STATUSES:
        raise ParseError(f"unknown Status {str(status)[:32]!r}")
    device = lookup.enrolled_device(ctx, channel, identity,
                                    start_session=status == "Idle" and channel.user_id is None)
    user = lookup.enrolled_user(ctx, device, channel)
    if channel.user_id and user is None:
        raise Unrecognized("unknown user channel")
    user_id = user.id if user else None
    channel_row = user or device
    if status == "Idle":
        if user is not None:
            user.session_started_at = user.last_seen_at = ctx.now
    else:
        report(ctx, device.id, user_id, msg, status, device)
        if channel_row.last_seen_at is None or ctx.now - channel_row.last_seen_at > LAST_SEEN_RESOLUTION:
            channel_row.last_seen_at = ctx.now  # coarse on purpose: not a row write per report
    if user is not None and (device.last_seen_at is None or ctx.now - device.last_seen_at > LAST_SEEN_RESOLUTION):
        device.last_seen_at = ctx.now
    if user is None and inventory.is_due(device, ctx.inventory_interval, ctx.now):
        inventory.queue_inventory(ctx, device)
        ctx.s.flush()
    command = queue.next_command(ctx.s, device.id, user_id, now=ctx.now,
                                 session_started_at=channel_row.session_started_at or ctx.now)
    if command is None:
        return None
    command.time = ctx.now
    return dump({"CommandUUID": command.uuid, "Command": _payload(ctx, device, command)})


def _payload(ctx, device, command: DeviceCommand) -> dict[str, Any]:
    cls = commands.get(command.name)
    arguments = queue.command_arguments(ctx.secrets, command)
    if cls is None:  # a command type this version no longer knows: send it as stored
        return {"RequestType": command.name, **arguments}
    return cls.payload(device, arguments)


def report(ctx, device_id: int, user_id: int | None, msg: dict, status: str, device) -> None:
    uuid = str_value(msg, "CommandUUID", 64)
    if uuid is None:
        raise ParseError(f"a {status} report needs a CommandUUID")
    command = queue.reported_command(ctx.s, device_id, user_id, uuid)
    if command is None:
        log.warning("device %s reported %s for unknown command %s", device.udid, status, uuid)
        return
    if command.is_final:
        log.info("device %s reported %s again for final command %s; ignored", device.udid, status, uuid)
        return
    if status == "NotNow":
        command.status = "NotNow"
        command.notnow_count += 1
        command.notnow_at = ctx.now
        return
    command.status = status
    command.result_time = ctx.now
    if status == "Acknowledged":
        command.result = _process(ctx, device, command, {k: v for k, v in msg.items() if k not in _IDENTITY_KEYS})
    else:
        command.error_chain = _error_chain(msg.get("ErrorChain"))


def _process(ctx, device, command: DeviceCommand, result: dict) -> Any:
    cls = commands.get(command.name)
    if cls is None:
        return jsonable(result) or None
    try:
        with ctx.s.begin_nested():
            processed = cls.process_result(ctx, device, command, result)
    except Exception as exc:  # never let a strange answer block the queue
        log.warning("device %s: cannot process %s result: %s", device.udid, command.name, exc)
        return {"processing_error": f"{type(exc).__name__}: {exc}"[:500]}
    return jsonable(processed) if processed else None


def _error_chain(value: Any) -> list[dict] | None:
    if not isinstance(value, list):
        return None
    chain = []
    for item in value[:20]:
        if isinstance(item, dict):
            chain.append({k: item.get(k) for k in ("ErrorCode", "ErrorDomain", "LocalizedDescription",
                                                   "USEnglishDescription") if isinstance(item.get(k), (int, str))})
    return jsonable(chain)


def jsonable(value: Any) -> Any:
    """Plist values as JSON: data as base64, dates as ISO 8601."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.isoformat()
    return value
