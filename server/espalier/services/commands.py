"""Queueing and listing commands, shared by the API, the CLI and (later) blueprints."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from espalier.mdm import commands as registry
from espalier.mdm.commands import CommandArgumentError
from espalier.mdm.queue import add_command
from espalier.models import DeviceCommand, EnrolledDevice
from espalier.services.errors import NotFound, ServiceError
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


def queue_command(s: Session, rt, device: EnrolledDevice, request_type: str, data: dict[str, Any] | None = None,
                  *, push: bool = True, enrolled_user_id: int | None = None) -> DeviceCommand:
    """Validate, queue the command and (after commit) push the device."""
    arguments = validate(device, request_type, data)
    command = add_command(s, rt.secrets, device.id, request_type, arguments, enrolled_user_id)
    if push:
        notify_after_commit(s, rt.queue, [device.id])
    return command


def get_command(s: Session, uuid: str) -> DeviceCommand:
    command = s.scalar(select(DeviceCommand).where(DeviceCommand.uuid == uuid))
    if command is None:
        raise NotFound("No DeviceCommand matches the given query.")
    return command


def list_commands(s: Session, *, device_id: int | None = None, name: str | None = None, status: str | None = None,
                  limit: int | None = None, offset: int = 0) -> tuple[list[DeviceCommand], int | None]:
    """Commands, newest first; ``status`` is a report status or ``pending`` (not answered)."""
    stmt = select(DeviceCommand)
    if device_id is not None:
        stmt = stmt.where(DeviceCommand.enrolled_device_id == device_id)
    if name:
        stmt = stmt.where(DeviceCommand.name == name)
    if status:
        stmt = stmt.where(DeviceCommand.is_pending if status == "pending" else DeviceCommand.status == status)
    count = None
    if limit is not None:
        count = s.scalar(select(func.count()).select_from(stmt.subquery()))
        stmt = stmt.limit(limit).offset(offset)
    stmt = stmt.order_by(DeviceCommand.created_at.desc(), DeviceCommand.id.desc())
    return list(s.scalars(stmt)), count
