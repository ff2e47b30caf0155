"""The one blocked-device gate, used by enrollment, SCEP issuance, check-in and connect.

A device is blocked by its UDID, or by its serial number (a re-imaged Mac gets a new
UDID but keeps its serial): on its enrolled row, or in ``blocked_devices`` before it ever
enrolled. A blocked device is told to unenroll at its next contact
(``Unrecognized``), gets no enrollment profile, no certificate and no renewal, and is
neither pushed nor sent commands (``EnrolledDevice.pushable``, ``services.devices``).
"""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from espalier.models import BlockedDevice, EnrolledDevice


def is_blocked(s: Session, udid: str | None, serial_number: str | None) -> bool:
    match, listed = [], []
    if udid:
        match.append(EnrolledDevice.udid == udid)
        listed.append(BlockedDevice.udid == udid.upper())
    if serial_number:
        match.append(EnrolledDevice.serial_number == serial_number)
        listed.append(BlockedDevice.serial_number == serial_number.upper())
    if not match:
        return False
    enrolled = select(EnrolledDevice.id).where(EnrolledDevice.is_blocked, or_(*match)).exists()
    return bool(s.scalar(select(or_(enrolled, select(BlockedDevice.id).where(or_(*listed)).exists()))))


def is_device_blocked(s: Session, device_id: int) -> bool:
    return bool(s.scalar(select(EnrolledDevice.is_blocked).where(EnrolledDevice.id == device_id)))
