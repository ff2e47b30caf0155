"""The command protocol: store the reported result, answer the next command or nothing.

https://developer.apple.com/documentation/devicemanagement/sending-mdm-commands-to-a-device
Status moves only forward: a report for an unknown or already final command is ignored,
NotNow leaves the command queued (offered again at the next session), Acknowledged and
Error are final. A result that cannot be processed still finalises the command, so it
never blocks the queue: its handler runs without a savepoint (two statements a report), and
if it fails the caller rolls the request back and stores the report again with the handler
skipped (``Unprocessable``).
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.orm.attributes import set_committed_value

from espalier import db
from espalier.models import DeviceCommand

from . import commands, convergence, inventory, lookup, queue, scheduling, store_apps
from .errors import Unrecognized
from .identity import Identity
from .messages import Report, dump
from .results import stored

log = logging.getLogger(__name__)

LAST_SEEN_RESOLUTION = timedelta(seconds=30)


class Unprocessable(Exception):
    """A command result its handler could not process. The request's transaction must be
    rolled back (the handler may have changed rows or objects halfway) and ``connect`` run
    again in a new one with ``Context.unprocessable`` set to this: the result is then kept
    as a processing error, the command finalised, and the handler not run."""

    def __init__(self, command_uuid: str, error: str):
        super().__init__(f"command {command_uuid}: {error}")
        self.command_uuid, self.error = command_uuid, error


def connect(ctx, msg: Report, identity: Identity) -> bytes | None:
    channel = msg.channel
    if msg.is_idle and channel.user_id is None:
        return _idle(ctx, channel, identity)
    if channel.user_id is None:  # a report on the device channel
        device, command = lookup.reporting_device(ctx, channel, identity, msg.command_uuid)
    else:
        device, command = lookup.enrolled_device(ctx, channel, identity), None
    user = lookup.enrolled_user(ctx, device, channel)
    if channel.user_id and user is None:
        raise Unrecognized("unknown user channel")
    user_id = user.id if user else None
    channel_row = user or device
    if msg.is_idle:
        user.session_started_at = user.last_seen_at = ctx.now
    else:
        if user is not None:
            command = queue.reported_command(ctx.s, device.id, user.id, msg.command_uuid)
        report(ctx, device, command, msg)
        if channel_row.last_seen_at is None or ctx.now - channel_row.last_seen_at > LAST_SEEN_RESOLUTION:
            channel_row.last_seen_at = ctx.now  # coarse on purpose: not a row write per report
    if user is not None and (device.last_seen_at is None or ctx.now - device.last_seen_at > LAST_SEEN_RESOLUTION):
        device.last_seen_at = ctx.now
    if user is None and inventory.is_due(device, inventory.interval(ctx, device.blueprint_id), ctx.now):
        inventory.queue_inventory(ctx, device)
        ctx.s.flush()
    # what the report changed is written first: the hand-out reads the queue on the driver's
    # cursor, and it clears the device's marks before the steps read them
    ctx.s.flush()
    handed = queue.hand_out_next(ctx.s, device.id, user_id, now=ctx.now,
                                 session_started_at=channel_row.session_started_at or ctx.now)
    if handed is None and user is None:
        return _answer(ctx, device, scheduling.next_command(ctx, device))
    return _message(ctx, device, handed)


def _idle(ctx, channel, identity: Identity) -> bytes | None:
    """An Idle connect of the device channel, the hot path: two Core statements (the session
    UPDATE ... RETURNING, then what the session has to do) when it has nothing to send, and a
    third to hand out a queued command; the ORM device is loaded only for an inventory due."""
    row = lookup.start_session(ctx, channel, identity)
    work = lookup.session_work(ctx, row)
    device = None
    if inventory.is_due(row, inventory.effective_interval(ctx, work.inventory_interval), ctx.now):
        device = lookup.loaded(ctx, row)
        inventory.queue_inventory(ctx, device)
        ctx.s.flush()
        if work.command_id is None:  # the inventory is now the next command
            return _message(ctx, device, queue.hand_out_next(ctx.s, row.id, None, now=ctx.now,
                                                             session_started_at=ctx.now))
    if work.command_id is not None:  # a payload is built from the command's arguments: no ORM device
        return _message(ctx, device or row, queue.hand_out(ctx.s, work.command_id, ctx.now))
    if row.blueprint_id is None and not work.has_artifacts and not row.awaiting_configuration:
        return None
    # convergence reads only SESSION_COLUMNS of the device; its commands' payloads none
    ctx.holds_store_apps, ctx.epoch = work.has_store_apps, work.epoch
    return _answer(ctx, row, scheduling.next_command(ctx, row))


def _answer(ctx, device, command: DeviceCommand | None) -> bytes | None:
    """Hand out a command a scheduling step just queued (an ORM object, kept in step)."""
    if command is None:
        return None
    if command.id is None:  # queued with flush=False: the hand-out needs its row
        ctx.s.flush()
    handed = queue.hand_out(ctx.s, command.id, ctx.now)
    set_committed_value(command, "time", ctx.now)
    set_committed_value(command, "updated_at", ctx.now)
    return _message(ctx, device, handed)


def _message(ctx, device, handed) -> bytes | None:
    """The answer carrying a handed-out command (``queue.HAND_OUT_COLUMNS``), or nothing."""
    if handed is None:
        return None
    return dump({"CommandUUID": handed.uuid, "Command": _payload(ctx, device, handed)})


def _payload(ctx, device, command) -> dict[str, Any]:
    cls = commands.get(command.name)
    arguments = queue.command_arguments(ctx.secrets, command)
    if cls is None:  # a command type this version no longer knows: send it as stored
        return {"RequestType": command.name, **arguments}
    return cls.payload(device, arguments)


def report(ctx, device, command: DeviceCommand | None, msg: Report) -> None:
    """Store what ``msg`` reports of ``command`` (the reporting channel's command of that UUID)."""
    if command is None:
        log.warning("device %s reported %s for unknown command %s", device.udid, msg.status, msg.command_uuid)
        return
    if command.is_final:
        log.info("device %s reported %s again for final command %s; ignored", device.udid, msg.status,
                 msg.command_uuid)
        return
    failed = msg.status not in ("Acknowledged", "NotNow")
    # written before the handler runs: what it reads of the queue sees this command answered
    queue.record_report(ctx.s, command, msg.status, ctx.now, error_chain=stored(msg.error_chain) if failed else None)
    if msg.status == "NotNow":
        return
    if msg.status == "Acknowledged":
        command.result = _process(ctx, device, command, msg.result)
    if command.artifact_version is not None:
        (store_apps if command.name in store_apps.COMMANDS else convergence).record_result(ctx, device, command)


def _process(ctx, device, command: DeviceCommand, result: dict) -> Any:
    cls = commands.get(command.name)
    if cls is None:
        return stored(result) or None
    failed = ctx.unprocessable
    if failed is not None and failed.command_uuid == command.uuid:
        return {"processing_error": failed.error}
    try:
        processed = cls.process_result(ctx, device, command, result)
        ctx.s.flush()  # the handler's writes fail here, not in a later step's statement
    except Exception as exc:  # never let a strange answer block the queue
        if db.unavailable(exc):  # not the answer's fault: the device sends it again later
            raise
        log.warning("device %s: cannot process %s result: %s", device.udid, command.name, exc)
        raise Unprocessable(command.uuid, f"{type(exc).__name__}: {exc}"[:500]) from exc
    return stored(processed) if processed else None
