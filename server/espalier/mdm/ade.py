"""Automated Device Enrollment, the device's side: MachineInfo and what it may enroll with.

During Setup Assistant an ADE device POSTs to its enrollment profile's ``url`` a CMS
SignedData of its MachineInfo plist (``UDID``, ``SERIAL``, ``PRODUCT``, ``VERSION`` (the
build), ``OS_VERSION``, ``MDM_CAN_REQUEST_SOFTWARE_UPDATE``, ``SOFTWARE_UPDATE_DEVICE_ID``, …)
signed by its Apple device identity: the same proof as the profile service's attributes, so
the session it opens is attested and its certificate speaks for that UDID only.

The enrollment's OS bounds (Zentral's rule): a device below the minimum that can update
during setup gets a 403 ``com.apple.softwareupdate.required`` naming the newest available
update below the maximum, or the minimum itself when the catalogue has none.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cryptography import x509

from .attestation import AttestationError, verify_signed_plist
from .messages import ParseError, str_value
from .platforms import platform_for
from .softwareupdate import latest_update, os_version_tuple

SOFTWARE_UPDATE_REQUIRED = "com.apple.softwareupdate.required"
# the platforms an enrollment's bounds name (iPadOS follows the iOS bounds, as in Zentral)
_BOUNDS = {"iOS": "ios", "iPadOS": "ios", "macOS": "macos"}


@dataclass(frozen=True)
class MachineInfo:
    udid: str
    serial_number: str
    product: str | None
    build: str | None
    os_version: str | None
    can_request_software_update: bool
    software_update_device_id: str | None
    signer: x509.Certificate

    @property
    def platform(self) -> str | None:
        return platform_for(self.product)


def verify_machine_info(body: bytes, anchors: list[x509.Certificate]) -> MachineInfo:
    """The signed MachineInfo, verified (signature, chain to Apple's device CA). Raises AttestationError."""
    info, signer = verify_signed_plist(body, anchors, "MachineInfo")
    try:
        udid, serial = str_value(info, "UDID", 64), str_value(info, "SERIAL", 64)
        if udid is None or serial is None:
            raise AttestationError("MachineInfo needs UDID and SERIAL")
        can_update = info.get("MDM_CAN_REQUEST_SOFTWARE_UPDATE", False)
        return MachineInfo(udid=udid, serial_number=serial, product=str_value(info, "PRODUCT", 64),
                           build=str_value(info, "VERSION", 32), os_version=str_value(info, "OS_VERSION", 32),
                           can_request_software_update=can_update is True,
                           software_update_device_id=str_value(info, "SOFTWARE_UPDATE_DEVICE_ID", 32),
                           signer=signer)
    except ParseError as exc:
        raise AttestationError(f"unreadable MachineInfo: {exc.reason}") from None


def required_update(s, enrollment, machine: MachineInfo, today: date) -> dict | None:
    """The 403 body that makes the device update first, or None when it may enroll as it is."""
    prefix = _BOUNDS.get(machine.platform or "")
    if prefix is None or not machine.can_request_software_update:
        return None
    minimum = getattr(enrollment, f"{prefix}_min_version")
    floor, current = os_version_tuple(minimum), os_version_tuple(machine.os_version)
    if floor is None or current is None or current >= floor:
        return None
    details = {"OSVersion": minimum}
    maximum = getattr(enrollment, f"{prefix}_max_version")
    if maximum:
        update = latest_update(s, platform=machine.platform, catalogue_id=machine.software_update_device_id,
                               build=machine.build, max_os_version=maximum, today=today)
        if update is not None and update.comparable_os_version[:3] >= floor[:3]:
            details = {"OSVersion": update.os_version, "BuildVersion": update.build}
    return {"code": SOFTWARE_UPDATE_REQUIRED, "details": details}
