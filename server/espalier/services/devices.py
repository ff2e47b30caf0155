"""Operator actions on enrolled devices: look up, block, unblock, lock, erase, reveal secrets."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from espalier.models import DeviceCommand, EnrolledDevice, utcnow
from espalier.runtime import current
from espalier.services.commands import queue_command
from espalier.services.errors import NotFound, ServiceError

SECRET_CONTEXTS = {
    "filevault_prk": "enrolled_devices.filevault_prk",
    "recovery_password": "enrolled_devices.recovery_password",
    "bootstrap_token": "enrolled_devices.bootstrap_token",
    "unlock_token": "enrolled_devices.unlock_token",
}


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
    if device.blocked_at is not None:
        raise ServiceError(f"device {device_id} is already blocked")
    device.blocked_at = utcnow()
    return device


def unblock(s: Session, device_id: int) -> EnrolledDevice:
    device = get_device(s, device_id, for_update=True)
    if device.blocked_at is None:
        raise ServiceError(f"device {device_id} is not blocked")
    device.blocked_at = None
    return device


def _ensure_not_blocked(device: EnrolledDevice) -> None:
    if device.blocked_at is not None:
        raise ServiceError(f"device {device.id} is blocked: unblock it before sending commands")


def lock(s: Session, device_id: int, data: dict) -> DeviceCommand:
    device = get_device(s, device_id)
    _ensure_not_blocked(device)
    return queue_command(s, device, "DeviceLock", data)


def erase(s: Session, device_id: int, data: dict) -> DeviceCommand:
    device = get_device(s, device_id)
    _ensure_not_blocked(device)
    return queue_command(s, device, "EraseDevice", data)


def queue(s: Session, device_id: int, request_type: str, data: dict) -> DeviceCommand:
    """Queue any registered command for the device (operators' generic path)."""
    device = get_device(s, device_id)
    _ensure_not_blocked(device)
    return queue_command(s, device, request_type, data)


def notify_later(s: Session, device_ids: list[int]):
    """A tracked job that pushes the devices (operators waking devices now)."""
    from espalier.tasks.queue import defer

    return defer(s, "espalier.tasks.push:notify_devices", sorted(set(device_ids))[:10_000], name="notify_devices",
                 queue="push")


def reveal_secret(s: Session, device_id: int, field: str) -> tuple[EnrolledDevice, str | None]:
    device = get_device(s, device_id)
    token = getattr(device, field)
    if token is None:
        return device, None
    return device, current().secrets.decrypt_str(token, SECRET_CONTEXTS[field])


def store_secret(device: EnrolledDevice, field: str, value: str | bytes | None) -> None:
    setattr(device, field, None if value in (None, b"", "") else
            current().secrets.encrypt(value, SECRET_CONTEXTS[field]))
