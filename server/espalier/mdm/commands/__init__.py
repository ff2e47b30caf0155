"""Command modules, one per RequestType, registered by name."""
from __future__ import annotations

from .account_configuration import AccountConfiguration
from .applications import InstallApplication, ManagedApplicationList, RemoveApplication
from .base import Command, CommandArgumentError
from .custom import CustomCommand
from .declarative_management import DeclarativeManagement
from .device_information import DeviceInformation
from .device_lock import DeviceLock
from .erase_device import EraseDevice
from .lists import CertificateList, InstalledApplicationList, ProfileList
from .power import DeviceConfigured, RestartDevice, ShutDownDevice
from .profiles import InstallProfile, RemoveProfile
from .rotate_filevault_key import RotateFileVaultKey
from .security_info import SecurityInfo
from .set_firmware_password import SetFirmwarePassword
from .verify_firmware_password import VerifyFirmwarePassword
from .set_recovery_lock import SetRecoveryLock
from .setup_filevault import RemoveFileVault, SetupFileVault

REGISTRY: dict[str, type[Command]] = {cls.request_type: cls for cls in (
    AccountConfiguration, CertificateList, CustomCommand, DeclarativeManagement, DeviceConfigured, DeviceInformation, DeviceLock, EraseDevice,
    InstallApplication, InstallProfile, InstalledApplicationList, ManagedApplicationList, ProfileList,
    RemoveApplication, RemoveFileVault, RemoveProfile, RestartDevice,
    RotateFileVaultKey, SecurityInfo, SetFirmwarePassword, SetRecoveryLock, SetupFileVault, ShutDownDevice,
    VerifyFirmwarePassword)}


# Commands an operator writes by hand: they can ask a device for anything, so the API needs a
# permission of their own for them (permissions.RAW_COMMANDS).
RAW_COMMAND_TYPES = frozenset({"CustomCommand", "InstallProfile"})


def get(request_type: str) -> type[Command] | None:
    return REGISTRY.get(request_type)


__all__ = ["Command", "CommandArgumentError", "RAW_COMMAND_TYPES", "REGISTRY", "get"]
