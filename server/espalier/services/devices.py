"""Operator actions on enrolled devices: look up, block, unblock, release, commands, secrets."""
from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from espalier.models import DeviceCommand, EnrolledDevice, TaskResult, utcnow
from espalier.pki.secrets import SecretError
from espalier.services.commands import queue_command
from espalier.services.errors import Conflict, NotFound, ServiceError
from espalier.tasks import push

log = logging.getLogger(__name__)

REVEALABLE = ("filevault_prk", "recovery_password")


def get_device(s: Session, device_id: int, *, for_update: bool = False) -> EnrolledDevice:
    stmt = select(EnrolledDevice).where(EnrolledDevice.id == device_id)
    device = s.scalar(stmt.with_for_update() if for_update else stmt)
    if device is None:
        raise NotFound(f"no enrolled device {device_id}")
    return device


def list_devices(s: Session, *, serial_number: str | None = None, udid: str | None = None,
                 limit: int | None = None, offset: int = 0) -> tuple[list[EnrolledDevice], int | None]:
    """Devices ordered by id; the count is computed only when paginating.

    Pages are a deferred join: OFFSET walks the id index only, then the page's rows are
    loaded, so a deep page does not build every skipped row.
    """
    filters = []
    if serial_number is not None:
        filters.append(EnrolledDevice.serial_number == serial_number)
    if udid is not None:
        filters.append(EnrolledDevice.udid == udid)
    stmt = select(EnrolledDevice).where(*filters).order_by(EnrolledDevice.id)
    if limit is None:
        return list(s.scalars(stmt)), None
    count = s.scalar(select(func.count(EnrolledDevice.id)).where(*filters))
    page_ids = select(EnrolledDevice.id).where(*filters).order_by(EnrolledDevice.id).limit(limit).offset(offset)
    return list(s.scalars(stmt.where(EnrolledDevice.id.in_(page_ids.scalar_subquery())))), count


def block(s: Session, device_id: int) -> EnrolledDevice:
    """Mark the device blocked: it is released at its next contact and cannot enroll again."""
    device = get_device(s, device_id, for_update=True)
    if device.is_blocked:
        raise ServiceError(f"device {device_id} is already blocked")
    device.blocked_at = utcnow()
    device.released_at = device.released_at or device.blocked_at  # told to unenroll: its UDID is free again
    return device


def unblock(s: Session, device_id: int) -> EnrolledDevice:
    device = get_device(s, device_id, for_update=True)
    if not device.is_blocked:
        raise ServiceError(f"device {device_id} is not blocked")
    device.blocked_at = None
    return device


def release(s: Session, device_id: int) -> EnrolledDevice:
    """Let the next enrollment of this UDID take it over without attestation (a device that
    was wiped or replaced without checking out). The current certificate keeps working
    until another one authenticates."""
    device = get_device(s, device_id, for_update=True)
    if device.released_at is None:
        device.released_at = utcnow()
    return device


def _commandable(s: Session, device_id: int) -> EnrolledDevice:
    device = get_device(s, device_id)
    if device.is_blocked:
        raise ServiceError(f"device {device.id} is blocked: unblock it before sending commands")
    return device


def lock(s: Session, rt, device_id: int, data: dict) -> DeviceCommand:
    return queue_command(s, rt, _commandable(s, device_id), "DeviceLock", data)


def erase(s: Session, rt, device_id: int, data: dict) -> DeviceCommand:
    return queue_command(s, rt, _commandable(s, device_id), "EraseDevice", data)


def queue(s: Session, rt, device_id: int, request_type: str, data: dict) -> DeviceCommand:
    """Queue any registered command for the device (operators' generic path)."""
    return queue_command(s, rt, _commandable(s, device_id), request_type, data)


def notify(s: Session, rt, device_ids: list[int]) -> TaskResult:
    """Push the devices now, as a tracked task."""
    return push.notify_tracked(s, rt.queue, device_ids)


def reveal_secret(s: Session, secrets, device_id: int, field: str) -> tuple[EnrolledDevice, str | None]:
    if field not in REVEALABLE:
        raise ValueError(field)
    device = get_device(s, device_id)
    try:
        return device, secrets.open_str(device, field)
    except SecretError as exc:  # another row's value, or tampered: never shown, never a 500
        log.error("device %s: stored %s cannot be decrypted: %s", device.id, field, exc)
        raise Conflict(f"the stored {field} cannot be decrypted (it belongs to another row, or was "
                       "tampered with)") from None
