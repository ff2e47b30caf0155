"""Devices blocked before they enroll: by serial number or UDID (``mdm/blocking.py`` reads them)."""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from espalier.models import BlockedDevice
from espalier.services import audit
from espalier.services.errors import NotFound, ServiceError


def list_blocked(s: Session, serial_number: str | None = None, udid: str | None = None) -> list[BlockedDevice]:
    stmt = select(BlockedDevice).order_by(BlockedDevice.id)
    if serial_number:
        stmt = stmt.where(BlockedDevice.serial_number == serial_number.upper())
    if udid:
        stmt = stmt.where(BlockedDevice.udid == udid.upper())
    return list(s.scalars(stmt))


def block(s: Session, serial_number: str | None, udid: str | None, reason: str | None,
          actor: audit.Actor) -> tuple[BlockedDevice, bool]:
    """The entry for this serial number or UDID, and whether it was made now (idempotent;
    an entry made is recorded)."""
    if not serial_number and not udid:
        raise ServiceError("serial_number or udid is required",
                           {"non_field_errors": ["Give a serial_number or a udid."]})
    serial, ud = (serial_number or "").upper() or None, (udid or "").upper() or None
    match = [c == v for c, v in ((BlockedDevice.serial_number, serial), (BlockedDevice.udid, ud)) if v]
    found = s.scalar(select(BlockedDevice).where(or_(*match)).limit(1))
    if found is not None:
        return found, False
    entry = BlockedDevice(serial_number=serial, udid=ud, reason=reason)
    s.add(entry)
    s.flush()
    audit.record(s, actor, "blocked_device_added", audit.BLOCKED_DEVICE, entry.id, serial_number=serial, udid=ud)
    return entry, True


def unblock(s: Session, entry_id: int, actor: audit.Actor) -> None:
    entry = s.get(BlockedDevice, entry_id)
    if entry is None:
        raise NotFound("No BlockedDevice matches the given query.")
    audit.record(s, actor, "blocked_device_removed", audit.BLOCKED_DEVICE, entry.id,
                 serial_number=entry.serial_number, udid=entry.udid)
    s.delete(entry)
