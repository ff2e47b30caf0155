"""The command queue's store functions: one indexed statement each."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, insert, not_, or_, select
from sqlalchemy.orm import Session

from espalier.models import DeviceCommand
from espalier.models.base import new_uuid
from espalier.pki.secrets import SecretBox, row_context

# A command handed out and not yet answered is "in flight": it is not handed out again
# until this much time passed (the device lost it), so racing requests cannot double it.
IN_FLIGHT = timedelta(seconds=60)


def _row(secrets: SecretBox, device_id: int, name: str, arguments: dict[str, Any], user_id: int | None) -> dict:
    """A new command's columns; its arguments (PINs, passwords) encrypted, bound to its uuid."""
    uuid = new_uuid()
    sealed = (secrets.encrypt(json.dumps(arguments, sort_keys=True),
                              row_context(DeviceCommand.__tablename__, "arguments", uuid)) if arguments else None)
    return {"uuid": uuid, "enrolled_device_id": device_id, "enrolled_user_id": user_id, "name": name,
            "request_hash": request_hash(secrets, name, arguments), "arguments": sealed}


def add_command(s: Session, secrets: SecretBox, device_id: int, name: str, arguments: dict[str, Any],
                user_id: int | None = None, *, flush: bool = True) -> DeviceCommand:
    """Queue a command. ``flush=False`` leaves the INSERT to the caller's next flush."""
    command = DeviceCommand(**_row(secrets, device_id, name, arguments, user_id))
    s.add(command)
    if flush:
        s.flush()
    return command


_INSERT = insert(DeviceCommand.__table__)  # built once (each build cost a new cache key)


def add_commands(s: Session, secrets: SecretBox, device_id: int, commands: list[tuple[str, dict[str, Any]]]) -> None:
    """Queue several commands of the device channel in one Core INSERT, now, on the session's
    connection (the queue reads them back: no ORM object is built for them)."""
    s.connection().execute(_INSERT, [_row(secrets, device_id, name, arguments, None) for name, arguments in commands])


def request_hash(secrets: SecretBox, name: str, arguments: dict[str, Any]) -> str:
    """What makes two commands the same request (operators' idempotency: lock once, erase once)."""
    return secrets.fingerprint(json.dumps([name, arguments], sort_keys=True), "device_commands.request")


def command_arguments(secrets: SecretBox, command: DeviceCommand) -> dict[str, Any]:
    raw = secrets.open(command, "arguments")
    return json.loads(raw) if raw else {}


def deliverable(c, user_channel: bool):
    """What the next command of a channel must be; ``c``: the ORM class or its table's columns."""
    return (
        c.enrolled_device_id == bindparam("device_id"),
        c.enrolled_user_id == bindparam("user_id") if user_channel else c.enrolled_user_id.is_(None),
        or_(c.status.is_(None), and_(c.status == "NotNow", c.notnow_at < bindparam("session_started_at"))),
        or_(c.not_before.is_(None), c.not_before <= bindparam("now")),
        not_(and_(c.status.is_(None), c.time.is_not(None), c.time > bindparam("in_flight_since"))),
    )


# Built once: the hot path binds values instead of rebuilding the expression per request.
_ORDER = (DeviceCommand.created_at, DeviceCommand.id)
_NEXT_FOR_DEVICE = select(DeviceCommand).where(*deliverable(DeviceCommand, False)).order_by(*_ORDER).limit(1)
_NEXT_FOR_USER = select(DeviceCommand).where(*deliverable(DeviceCommand, True)).order_by(*_ORDER).limit(1)



def next_command(s: Session, device_id: int, user_id: int | None, *, session_started_at: datetime,
                 now: datetime) -> DeviceCommand | None:
    """The oldest deliverable command for a channel.

    A session starts with an Idle request; a command the device answered NotNow in the
    current session is not offered again before the next one. A command in flight is not
    offered again before ``IN_FLIGHT`` passed. Reads the partial pending index; the
    device row is already locked by the caller.
    """
    params = {"device_id": device_id, "session_started_at": session_started_at, "now": now,
              "in_flight_since": now - IN_FLIGHT}
    if user_id is None:
        return s.scalar(_NEXT_FOR_DEVICE, params)
    return s.scalar(_NEXT_FOR_USER, {**params, "user_id": user_id})


def reported_by(device_id, user_id=None) -> tuple:
    """What makes a command the one a report refers to (bind ``uuid``): its UUID, on the
    reporting channel only (the device's, or one user's of it)."""
    return (DeviceCommand.uuid == bindparam("uuid"), DeviceCommand.enrolled_device_id == device_id,
            DeviceCommand.enrolled_user_id.is_(None) if user_id is None else DeviceCommand.enrolled_user_id == user_id)


_REPORTED_FOR_USER = select(DeviceCommand).where(*reported_by(bindparam("device_id"), bindparam("user_id")))


def reported_command(s: Session, device_id: int, user_id: int, uuid: str) -> DeviceCommand | None:
    """The command a user channel's report refers to (the device channel's comes with the
    device's lookup: ``lookup.reporting_device``)."""
    return s.scalar(_REPORTED_FOR_USER, {"uuid": uuid, "device_id": device_id, "user_id": user_id})

