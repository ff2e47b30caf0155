"""The command queue's store functions: one indexed statement each."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, and_, bindparam, insert, not_, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from espalier.db import HotStatement
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


def command_arguments(secrets: SecretBox, command) -> dict[str, Any]:
    """The arguments of a command: an ORM one or a hand-out row (its uuid and sealed arguments)."""
    if command.arguments is None:
        return {}
    raw = secrets.decrypt(command.arguments, row_context(DeviceCommand.__tablename__, "arguments", command.uuid))
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


# A command handed out: stamped with its delivery time and read for its message in one
# statement on the driver's cursor (the message needs only these columns: no ORM object).
HAND_OUT_COLUMNS = ("id", "uuid", "name", "arguments")
_COMMANDS = DeviceCommand.__table__


def _handing_out(which) -> HotStatement:
    # Still pending when its row lock is granted: a command an operator canceled meanwhile (the
    # cancel holds that lock; PostgreSQL re-checks this on the committed row) is not sent.
    return HotStatement(update(_COMMANDS).where(_COMMANDS.c.id == which, DeviceCommand.is_pending)
                        .values(time=bindparam("now"), updated_at=bindparam("now"))
                        .returning(*(_COMMANDS.c[name] for name in HAND_OUT_COLUMNS)))


def _oldest(user_channel: bool):
    return (select(_COMMANDS.c.id).where(*deliverable(_COMMANDS.c, user_channel))
            .order_by(_COMMANDS.c.created_at, _COMMANDS.c.id).limit(1).scalar_subquery())


_HAND_OUT = _handing_out(bindparam("b_id"))
_HAND_OUT_NEXT = {False: _handing_out(_oldest(False)), True: _handing_out(_oldest(True))}


def hand_out(s: Session, command_id: int, now: datetime):
    """Hand out this command now: its ``HAND_OUT_COLUMNS`` (None: no such pending command)."""
    return _HAND_OUT.one_or_none(s, {"b_id": command_id, "now": now})


def hand_out_next(s: Session, device_id: int, user_id: int | None, *, session_started_at: datetime,
                  now: datetime):
    """Hand out the oldest deliverable command of a channel now: its ``HAND_OUT_COLUMNS``, or None.

    A session starts with an Idle request; a command the device answered NotNow in the
    current session is not offered again before the next one. A command in flight is not
    offered again before ``IN_FLIGHT`` passed. Reads the partial pending index; the
    device row is already locked by the caller.
    """
    params = {"device_id": device_id, "session_started_at": session_started_at, "now": now,
              "in_flight_since": now - IN_FLIGHT}
    if user_id is not None:
        params["user_id"] = user_id
    return _HAND_OUT_NEXT[user_id is not None].one_or_none(s, params)


# A report's status: one statement of a fixed shape per outcome, only the columns it changes;
# the result, when the command's handler keeps one, is written through the ORM.
_BY_ID = _COMMANDS.c.id == bindparam("b_id")
_NOT_NOW = HotStatement(update(_COMMANDS).where(_BY_ID).values(
    status=bindparam("b_status"), notnow_count=bindparam("b_notnow_count"), notnow_at=bindparam("b_notnow_at"),
    updated_at=bindparam("now")))
_ACKNOWLEDGED = HotStatement(update(_COMMANDS).where(_BY_ID).values(
    status=bindparam("b_status"), result_time=bindparam("b_result_time"), updated_at=bindparam("now")))
_FAILED = HotStatement(update(_COMMANDS).where(_BY_ID).values(
    status=bindparam("b_status"), result_time=bindparam("b_result_time"),
    error_chain=bindparam("b_error_chain", type_=JSON(none_as_null=True)), updated_at=bindparam("now")))


def record_report(s: Session, command: DeviceCommand, status: str, now: datetime, *,
                  error_chain: list | None = None) -> None:
    """Write a reported status of ``command`` (NotNow counts and stamps; a final status stamps
    its time, an error keeps its chain), on the driver's cursor, and set it on the ORM object."""
    if status == "NotNow":
        statement, values = _NOT_NOW, {"notnow_count": command.notnow_count + 1, "notnow_at": now}
    elif status == "Acknowledged":
        statement, values = _ACKNOWLEDGED, {"result_time": now}
    else:
        statement, values = _FAILED, {"result_time": now, "error_chain": error_chain}
    values["status"] = status
    statement.execute(s, {"b_id": command.id, "now": now, **{f"b_{k}": v for k, v in values.items()}})
    for name, value in {**values, "updated_at": now}.items():
        set_committed_value(command, name, value)


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

