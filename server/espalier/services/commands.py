"""Queueing and listing commands, shared by the API, the CLI and (later) blueprints."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from espalier.mdm import commands as registry
from espalier.mdm.commands import CommandArgumentError
from espalier.mdm.queue import add_command, request_hash
from espalier.models import DeviceCommand, EnrolledDevice, utcnow
from espalier.services import paging
from espalier.services.errors import Conflict, NotFound, ServiceError
from espalier.tasks.push import notify_after_commit


def validate(device: EnrolledDevice, request_type: str, data: dict[str, Any] | None) -> dict[str, Any]:
    """Operator input for the RequestType, checked for ``device``: the arguments to store."""
    cls = registry.get(request_type)
    if cls is None:
        known = ", ".join(sorted(registry.REGISTRY))
        raise ServiceError(f"unknown command {request_type!r} (known: {known})",
                           {"name": [f'"{request_type}" is not a valid choice.']})
    try:
        return cls.validate(device, data or {})
    except CommandArgumentError as exc:
        raise ServiceError(exc.detail, exc.errors or None) from None


def would_queue(s: Session, rt, device: EnrolledDevice, request_type: str,
                data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A dry run: exactly the checks of ``queue_command`` (the same 400s), nothing written.
    The answer names the command and the hash that the queued one would carry."""
    arguments = validate(device, request_type, data)
    return {"name": request_type, "enrolled_device": device.id,
            "request_hash": request_hash(rt.secrets, request_type, arguments)}


def cancel(s: Session, uuid: str) -> DeviceCommand:
    """Withdraw a command the device has not fetched (never delivered, or deferred with NotNow)."""
    command = get_command(s, uuid, for_update=True)
    if command.is_final:
        raise Conflict(f"the command is already {command.status}")
    if command.status is None and command.time is not None:
        raise Conflict("the device fetched this command and has not answered yet: it cannot be withdrawn")
    command.status = "Canceled"
    command.result_time = utcnow()
    s.flush()
    return command


def queue_command(s: Session, rt, device: EnrolledDevice, request_type: str, data: dict[str, Any] | None = None,
                  *, push: bool = True, enrolled_user_id: int | None = None) -> DeviceCommand:
    """Validate, queue the command and (after commit) push the device."""
    arguments = validate(device, request_type, data)
    command = add_command(s, rt.secrets, device.id, request_type, arguments, enrolled_user_id)
    if push:
        notify_after_commit(s, rt.queue, [device.id])
    return command


def get_command(s: Session, uuid: str, *, for_update: bool = False) -> DeviceCommand:
    stmt = select(DeviceCommand).where(DeviceCommand.uuid == uuid)
    command = s.scalar(stmt.with_for_update() if for_update else stmt)
    if command is None:
        raise NotFound("No DeviceCommand matches the given query.")
    return command


def list_commands(s: Session, *, device_id: int | None = None, name: str | None = None, status: str | None = None,
                  request_hash: str | None = None, limit: int | None = None, offset: int = 0,
                  counts: paging.CountCache | None = None) -> tuple[list[DeviceCommand], int | None]:
    """Commands, newest first; ``status`` is a report status or ``pending`` (not answered)."""
    stmt = select(DeviceCommand)
    if request_hash:
        stmt = stmt.where(DeviceCommand.request_hash == request_hash)
    if device_id is not None:
        stmt = stmt.where(DeviceCommand.enrolled_device_id == device_id)
    if name:
        stmt = stmt.where(DeviceCommand.name == name)
    if status:
        stmt = stmt.where(DeviceCommand.is_pending if status == "pending" else DeviceCommand.status == status)
    ordered = stmt.order_by(DeviceCommand.created_at.desc(), DeviceCommand.id.desc())
    if limit is None:
        return list(s.scalars(ordered)), None
    rows = list(s.scalars(ordered.limit(limit + 1).offset(offset)))
    return paging.page(rows, limit, offset, lambda: s.scalar(select(func.count()).select_from(stmt.subquery())),
                       counts, ("commands", device_id, name, status, request_hash))
