"""What a simulated device is: its hardware and OS facts, and the catalogue of flavours.

Check-ins and command answers read a `DeviceFacts`; `CATALOGUE` names the models a
fleet can mix (`SimulatedDevice.flavour(name)`).
"""

from __future__ import annotations

import os
import random
import string
import uuid
from dataclasses import dataclass, field

_NAMES = ["Alex", "Sam", "Robin", "Kim", "Noa", "Jules", "Maxime", "Andrea", "Charlie", "Lou"]


def _serial() -> str:
    return "".join(random.choices(string.ascii_uppercase + string.digits, k=12))


def _mac_address() -> str:
    return ":".join(f"{b:02x}" for b in os.urandom(6))


@dataclass
class DeviceFacts:
    """What the hardware and OS are; answers and check-ins read these."""

    platform: str  # macOS | iOS | iPadOS
    model: str  # product type: Mac14,2, iPhone15,2 (ProductName)
    model_name: str  # MacBook Air, iPhone
    model_number: str  # MLY33LL/A
    os_version: str
    build_version: str
    software_update_device_id: str
    apple_silicon: bool = False
    t2: bool = False  # Intel Mac with a T2 chip (erase/lock need no PIN)
    supervised: bool = False
    dep: bool = False
    filevault: bool = False
    serial: str = field(default_factory=_serial)
    udid: str = field(default_factory=lambda: str(uuid.uuid4()).upper())
    device_name: str = ""
    wifi_mac: str = field(default_factory=_mac_address)
    bluetooth_mac: str = field(default_factory=_mac_address)
    imei: str = field(default_factory=lambda: "35" + "".join(random.choices(string.digits, k=13)))

    @property
    def reports_supervised(self) -> bool:
        """IsSupervised as the device reports it: macOS 11 and later supervise a Mac enrolled with
        user approval, which every enrollment of this simulator is (UserApprovedEnrollment)."""
        major = int(self.os_version.split(".")[0]) if self.os_version.split(".")[0].isdigit() else 0
        return self.supervised or (self.platform == "macOS" and major >= 11)

    def __post_init__(self) -> None:
        self.device_name = self.device_name or f"{random.choice(_NAMES)}'s {self.model_name}"


# flavour -> (platform, model, model name, model number, OS, build, SU device id, Apple silicon, T2)
CATALOGUE: dict[str, tuple[str, str, str, str, str, str, str, bool, bool]] = {
    "mac": ("macOS", "Mac14,2", "MacBook Air", "MLY33LL/A", "14.6.1", "23G93", "J413AP", True, False),
    "intel_t2": ("macOS", "MacBookPro16,1", "MacBook Pro", "MVVJ2LL/A", "14.6.1", "23G93", "J152FAP", False, True),
    "intel_t1": ("macOS", "MacBookPro14,1", "MacBook Pro", "MPXQ2LL/A", "13.6.9", "22G830",
                 "Mac-B4831CEBD52A0C4C", False, False),
    "iphone": ("iOS", "iPhone15,2", "iPhone", "MQ0T3LL/A", "17.6.1", "21G93", "iPhone15,2", False, False),
    "ipad": ("iPadOS", "iPad13,1", "iPad", "MYFM2LL/A", "17.6.1", "21G93", "iPad13,1", False, False),
}
