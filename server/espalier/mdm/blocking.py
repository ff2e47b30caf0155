"""The one blocked-device gate, used by enrollment, SCEP issuance, check-in and connect.

A device is blocked by its UDID, or by its serial number (a re-imaged Mac gets a new
UDID but keeps its serial): on its enrolled row, or in ``blocked_devices`` before it ever
enrolled. A blocked device is told to unenroll at its next contact
(``Unrecognized``), gets no enrollment profile, no certificate and no renewal, and is
neither pushed nor sent commands (``EnrolledDevice.pushable``, ``services.devices``).
"""
from __future__ import annotations

from sqlalchemy import bindparam, exists, or_, select
from sqlalchemy.orm import Session

from espalier.db import HotStatement
from espalier.models import BlockedDevice, EnrolledDevice

# One expression built once (three requests of an enrollment ask it; Authenticate within its
# certificate lookup, ``identity.certificate_origin``); a None never matches.
BLOCKED = or_(
    exists().where(EnrolledDevice.is_blocked, or_(EnrolledDevice.udid == bindparam("udid"),
                                                  EnrolledDevice.serial_number == bindparam("serial_number"))),
    exists().where(or_(BlockedDevice.udid == bindparam("listed_udid"),
                       BlockedDevice.serial_number == bindparam("listed_serial_number"))))
_BLOCKED = HotStatement(select(BLOCKED.label("blocked")))


def parameters(udid: str | None, serial_number: str | None) -> dict[str, str | None]:
    """``BLOCKED``'s parameters (blocked_devices holds its identifiers upper-cased)."""
    udid, serial_number = udid or None, serial_number or None
    return {"udid": udid, "serial_number": serial_number,
            "listed_udid": udid.upper() if udid else None,
            "listed_serial_number": serial_number.upper() if serial_number else None}


def is_blocked(s: Session, udid: str | None, serial_number: str | None) -> bool:
    if not udid and not serial_number:
        return False
    return bool(_BLOCKED.one_or_none(s, parameters(udid, serial_number)).blocked)


def is_device_blocked(s: Session, device_id: int) -> bool:
    return bool(s.scalar(select(EnrolledDevice.is_blocked).where(EnrolledDevice.id == device_id)))
