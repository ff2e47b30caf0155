"""Command modules, one per RequestType, registered by name."""
from __future__ import annotations

from .base import Command, CommandArgumentError
from .custom import CustomCommand
from .device_information import DeviceInformation
from .device_lock import DeviceLock
from .erase_device import EraseDevice
from .lists import CertificateList, InstalledApplicationList, ProfileList
from .power import DeviceConfigured, RestartDevice, ShutDownDevice
from .profiles import InstallProfile, RemoveProfile
from .security_info import SecurityInfo

REGISTRY: dict[str, type[Command]] = {cls.request_type: cls for cls in (
    CertificateList, CustomCommand, DeviceConfigured, DeviceInformation, DeviceLock, EraseDevice,
    InstallProfile, InstalledApplicationList, ProfileList, RemoveProfile, RestartDevice, SecurityInfo,
    ShutDownDevice)}


def get(request_type: str) -> type[Command] | None:
    return REGISTRY.get(request_type)


__all__ = ["Command", "CommandArgumentError", "REGISTRY", "get"]
