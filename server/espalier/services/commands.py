"""Queueing commands for devices, shared by the API, the CLI, blueprints and the inventory loop."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from espalier.mdm import commands as registry
from espalier.mdm.commands import CommandArgumentError
from espalier.mdm.queue import add_command
from espalier.models import DeviceCommand, EnrolledDevice
from espalier.runtime import current
from espalier.services import notify
from espalier.services.errors import NotFound, ServiceError

def queue_command(s: Session, device: EnrolledDevice, request_type: str, data: dict[str, Any] | None = None,
                  *, validated: dict[str, Any] | None = None, push: bool = True,
                  enrolled_user_id: int | None = None) -> DeviceCommand:
    """Validate operator input for the RequestType, queue the command and (after commit) push."""
    cls = registry.get(request_type)
    if cls is None:
        known = ", ".join(sorted(registry.REGISTRY))
        raise ServiceError(f"unknown command {request_type!r} (known: {known})", {"name": ["unknown command"]})
    if validated is None:
        try:
            validated = cls.validate(device, data or {})
        except CommandArgumentError as exc:
            raise ServiceError(exc.detail, exc.errors) from None
    command = add_command(s, current().secrets, device.id, request_type, validated, enrolled_user_id)
    if push:
        notify.devices_after_commit(s, [device.id])
    return command


def get_command(s: Session, uuid: str) -> DeviceCommand:
    command = s.scalar(select(DeviceCommand).where(DeviceCommand.uuid == uuid))
    if command is None:
        raise NotFound(f"no command {uuid}")
    return command
