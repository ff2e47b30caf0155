"""What a simulated device answers to each MDM command: `answer(device, command)`.

Shapes follow apple/device-management `mdm/commands/*.yaml`. Each handler returns
(Status, result keys sent at the top level of the report). Profiles arriving in
InstallProfile are read with `profiles.read_profile`, as the enrollment profile is.
"""

from __future__ import annotations

import json
import plistlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from espalier.sim.profiles import (ProfileError, payload_problem, escrowed_recovery_key, filevault_on, installed_payloads,
                                   load_cert, new_recovery_key, read_profile, seal_recovery_key)

if TYPE_CHECKING:
    from espalier.sim.device import SimulatedDevice

Answer = tuple[str, dict[str, Any]]


def error_chain(code: int, domain: str, description: str) -> dict[str, Any]:
    return {"ErrorChain": [{"ErrorCode": code, "ErrorDomain": domain,
                            "LocalizedDescription": description, "USEnglishDescription": description}]}


def _profile_entry(identifier: str, profile: dict[str, Any], signers: list[bytes]) -> dict[str, Any]:
    keys = ("PayloadUUID", "PayloadDisplayName", "PayloadDescription", "PayloadOrganization",
            "PayloadVersion", "PayloadRemovalDisallowed")
    entry = {k: profile[k] for k in keys if k in profile}
    entry.update(PayloadIdentifier=identifier, IsManaged=True, IsEncrypted=False, HasRemovalPasscode=False,
                 PayloadContent=[{k: p[k] for k in ("PayloadType", "PayloadIdentifier", "PayloadUUID",
                                                    "PayloadDisplayName", "PayloadVersion") if k in p}
                                 for p in profile.get("PayloadContent", []) if isinstance(p, dict)])
    if signers:
        entry["SignerCertificates"] = signers
    return entry


# ---- command handlers -------------------------------------------------------------------

def _device_information(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    f, mac = device.facts, device.facts.platform == "macOS"
    values: dict[str, Any] = {
        "UDID": f.udid, "SerialNumber": f.serial, "DeviceName": f.device_name,
        "Model": f.model if mac else f.model_number, "ModelName": f.model_name,
        "ModelNumber": f.model_number, "ProductName": f.model, "OSVersion": f.os_version,
        "BuildVersion": f.build_version, "SupplementalBuildVersion": f.build_version,
        "IsSupervised": f.reports_supervised, "AwaitingConfiguration": device.awaiting_configuration,
        "SoftwareUpdateDeviceID": f.software_update_device_id, "DeviceCapacity": 460.43,
        "AvailableDeviceCapacity": 301.2, "BatteryLevel": 0.87, "WiFiMAC": f.wifi_mac,
        "BluetoothMAC": f.bluetooth_mac, "MDMOptions": {}, "OrganizationInfo": {},
    }
    if mac:
        pin = not (f.apple_silicon or f.t2)
        values.update(IsAppleSilicon=f.apple_silicon, PINRequiredForDeviceLock=pin, PINRequiredForEraseDevice=pin,
                      EACSPreflight="success" if not pin else "not supported", HasBattery=True,
                      IsActivationLockSupported=True, SystemIntegrityProtectionEnabled=True,
                      HostName=f"{f.device_name.replace(' ', '-')}.local", SupportsiOSAppInstalls=f.apple_silicon,
                      ProvisioningUDID=f.udid, LocalHostName=f.device_name.replace(" ", "-"))
    else:
        values.update(IsDeviceLocatorServiceEnabled=True, IsActivationLockEnabled=False, IsMultiUser=False,
                      IsCloudBackupEnabled=False, IsMDMLostModeEnabled=False, TimeZone="Europe/Zurich")
        if f.model.startswith("iPhone"):
            values.update(IMEI=f.imei, ModemFirmwareVersion="1.50.02", CellularTechnology=1)
    queries = command.get("Queries")
    if queries is None:
        return "Acknowledged", {"QueryResponses": values}
    if not isinstance(queries, list):
        return "CommandFormatError", error_chain(12021, "MCMDMErrorDomain", "Queries must be an array")
    return "Acknowledged", {"QueryResponses": {q: values[q] for q in queries if q in values}}


def _security_info(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    f = device.facts
    status: dict[str, Any] = {"IsUserEnrollment": False}
    if f.platform != "macOS":
        return "Acknowledged", {"SecurityInfo": {
            "HardwareEncryptionCaps": 3, "PasscodePresent": True, "PasscodeCompliant": True,
            "PasscodeCompliantWithProfiles": True, "ManagementStatus": status}}
    status.update(EnrolledViaDEP=f.dep, UserApprovedEnrollment=True, IsActivationLockManageable=f.supervised)
    fde = filevault_on(device)
    f.filevault = fde  # once on, FileVault stays on (removing the profile does not decrypt the disk)
    info: dict[str, Any] = {
        "FDE_Enabled": fde, "FDE_HasPersonalRecoveryKey": fde, "FDE_HasInstitutionalRecoveryKey": False,
        "SystemIntegrityProtectionEnabled": True, "AuthenticatedRootVolumeEnabled": True,
        "RemoteDesktopEnabled": False, "ManagementStatus": status,
        "FirewallSettings": {"FirewallEnabled": False, "BlockAllIncoming": False, "StealthMode": False},
        "SecureBoot": {"SecureBootLevel": "full" if f.apple_silicon or f.t2 else "not supported",
                       "ExternalBootLevel": "disallowed" if f.t2 else "not supported"},
        "BootstrapTokenAllowedForAuthentication": "allowed" if f.apple_silicon else "not supported",
        **escrowed_recovery_key(device)}
    if f.apple_silicon:
        info["IsRecoveryLockEnabled"] = device.recovery_lock is not None
    else:
        info["FirmwarePasswordStatus"] = {"PasswordExists": device.firmware_password is not None,
                                          "ChangePending": device.firmware_change_pending, "AllowOroms": True}
    return "Acknowledged", {"SecurityInfo": info}


def _profile_list(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    return "Acknowledged", {"ProfileList": [
        _profile_entry(identifier, profile, device.profile_signers.get(identifier, []))
        for identifier, profile in device.profiles.items()]}


def _certificate_list(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    certs = []
    if device.identity_cert is not None:
        names = device.identity_cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        certs.append({"CommonName": str(names[0].value) if names else "", "IsIdentity": True,
                      "Data": device.identity_cert.public_bytes(serialization.Encoding.DER)})
    for payload in installed_payloads(device):
        if payload.get("PayloadType") in ("com.apple.security.pkcs1", "com.apple.security.root"):
            certs.append({"CommonName": payload.get("PayloadCertificateFileName", payload.get("PayloadDisplayName", "")),
                          "IsIdentity": False, "Data": payload.get("PayloadContent", b"")})
    return "Acknowledged", {"CertificateList": certs}


_APPS = {"macOS": [("com.apple.Safari", "Safari", "19618.3.11.11.5", "17.6"),
                   ("com.apple.iWork.Pages", "Pages", "7035.0.121", "14.1"),
                   ("com.google.Chrome", "Google Chrome", "128.0.6613.120", "128.0.6613.120"),
                   ("com.tinyspeck.slackmacgap", "Slack", "440002", "4.40.128")],
         "iOS": [("com.apple.Pages", "Pages", "7035.0.121", "14.1"),
                 ("com.google.chrome.ios", "Chrome", "128.6613.92", "128.0.6613.92"),
                 ("com.tinyspeck.chatlyio", "Slack", "24.08.10", "24.08.10")]}


def _installed_applications(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    wanted = command.get("Identifiers")
    apps = [{"Identifier": i, "Name": n, "Version": v, "ShortVersion": s, "BundleSize": 104_857_600 + len(n),
             "Installing": False, "IsValidated": True}
            for i, n, v, s in _APPS["macOS" if device.facts.platform == "macOS" else "iOS"]
            if not wanted or i in wanted]
    return "Acknowledged", {"InstalledApplicationList": apps}


def _install_profile(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    identity = (device.identity_cert, device.identity_key) if device.identity_cert and device.identity_key else None
    try:
        profile, signers = read_profile(command["Payload"], identity)
    except (KeyError, TypeError, ProfileError) as exc:
        return "Error", error_chain(1000, "MCProfileErrorDomain", f"The profile could not be installed: {exc}")
    if (problem := payload_problem(profile)) is not None:
        return "Error", {"ErrorChain": [
            {"ErrorCode": 4001, "ErrorDomain": "MCInstallationErrorDomain",
             "LocalizedDescription": "Profile Installation Failed",
             "USEnglishDescription": "Profile Installation Failed"},
            {"ErrorCode": 2003, "ErrorDomain": "MCPayloadErrorDomain", "LocalizedDescription": problem,
             "USEnglishDescription": problem}]}
    device.profiles[profile["PayloadIdentifier"]] = profile
    device.profile_signers[profile["PayloadIdentifier"]] = signers
    if device.facts.platform == "macOS" and filevault_on(device):
        device.facts.filevault = True  # the user logged in and enabled it: it stays on if the profile goes
    return "Acknowledged", {}


def _remove_profile(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    identifier = command.get("Identifier")
    if identifier not in device.profiles:
        return "Error", error_chain(1001, "MCProfileErrorDomain", f"The profile “{identifier}” is not installed.")
    if identifier == device.mdm_profile_identifier:
        device.remove_after_session = True  # removing the MDM profile unenrolls
        return "Acknowledged", {}
    device.profiles.pop(identifier)
    device.profile_signers.pop(identifier, None)
    return "Acknowledged", {}


def app_bundle_id(adam_id: Any) -> str:
    """The bundle id the simulated App Store knows an adam id by."""
    return f"com.example.store.app{adam_id}"


def _install_application(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    adam_id = command.get("iTunesStoreID")
    if not isinstance(adam_id, int) or isinstance(adam_id, bool):
        return "Error", error_chain(12021, "MCMDMErrorDomain", "iTunesStoreID must be an integer")
    configuration = command.get("Configuration")
    if configuration is not None and not isinstance(configuration, dict):
        return "Error", error_chain(12021, "MCMDMErrorDomain", "Configuration must be a dictionary")
    bundle_id = app_bundle_id(adam_id)
    device.managed_apps[bundle_id] = {"adam_id": adam_id, "status": "Queued", "checks": 0,
                                      "configuration": configuration, "command": command}
    return "Acknowledged", {"Identifier": bundle_id, "State": "Queued"}


def _remove_application(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    identifier = command.get("Identifier")
    if device.managed_apps.pop(identifier, None) is None:
        return "Error", error_chain(12037, "MCMDMErrorDomain", f"The app “{identifier}” is not managed.")
    return "Acknowledged", {}


def _managed_applications(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    wanted = command.get("Identifiers")
    out = {}
    for bundle_id, app in device.managed_apps.items():
        if wanted and bundle_id not in wanted:
            continue
        app["checks"] += 1
        if app["checks"] > device.app_checks_before_installed:
            app["status"] = "Managed"
        elif app["status"] == "Queued":
            app["status"] = "Installing"
        out[bundle_id] = {"Status": app["status"], "ManagementFlags": command.get("ManagementFlags", 1),
                          "HasConfiguration": app["configuration"] is not None, "HasFeedback": False,
                          "IsValidated": True, "ExternalVersionIdentifier": 1}
    return "Acknowledged", {"ManagedApplicationList": out}


def _needs_pin(device: SimulatedDevice, command: dict[str, Any]) -> Answer | None:
    f = device.facts
    if f.platform == "macOS" and not (f.apple_silicon or f.t2) and not command.get("PIN"):
        return "Error", error_chain(12064, "MCMDMErrorDomain", "A PIN is required on this Mac.")
    return None


def _erase_device(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    refused = _needs_pin(device, command)
    if refused is None:
        device.actions.append(("EraseDevice", command.get("PIN")))
    return refused or ("Acknowledged", {})


def _device_lock(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    refused = _needs_pin(device, command)
    if refused:
        return refused
    device.actions.append(("DeviceLock", command.get("PIN")))
    return "Acknowledged", {} if device.facts.platform == "macOS" else {"MessageResult": "Success"}


def _power(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    if device.facts.platform != "macOS" and not device.facts.supervised:
        return "Error", error_chain(12081, "MCMDMErrorDomain", "The device is not supervised.")
    device.actions.append((command["RequestType"], None))
    if device.firmware_change_pending:  # the restart applies the new firmware password
        device.firmware_password, device.pending_firmware_password = device.pending_firmware_password, None
        device.firmware_change_pending = False
    return "Acknowledged", {}


def _device_configured(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    device.awaiting_configuration = False
    return "Acknowledged", {}


def _account_configuration(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    """macOS in Setup Assistant creates the admin accounts; a hash it cannot read is an error."""
    if device.facts.platform != "macOS" or not device.awaiting_configuration:
        return "Error", error_chain(12078, "MCMDMErrorDomain", "The device is not awaiting configuration.")
    for account in command.get("AutoSetupAdminAccounts") or []:
        try:
            shadow = plistlib.loads(account["passwordHash"])["SALTED-SHA512-PBKDF2"]
            if len(shadow["entropy"]) != 128 or len(shadow["salt"]) < 16 or shadow["iterations"] < 1000:
                raise ValueError("weak or malformed hash")
        except (KeyError, TypeError, ValueError, plistlib.InvalidFileException):
            return "Error", error_chain(12080, "MCMDMErrorDomain", "Invalid passwordHash.")
        device.admin_accounts[account["shortName"]] = shadow
    return "Acknowledged", {}


def _settings(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    results = []
    for item in command.get("Settings", []):
        if item.get("Item") == "DeviceName" and item.get("DeviceName"):
            device.facts.device_name = item["DeviceName"]
        results.append({"Item": item.get("Item"), "Status": "Acknowledged"})
    return "Acknowledged", {"Settings": results}


def _rotate_filevault_key(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    unlock = command.get("FileVaultUnlock")
    if not filevault_on(device) or "ReplyEncryptionCertificate" not in command or command.get("KeyType") != "personal":
        return "Error", error_chain(12070, "MCMDMErrorDomain", "FileVault key cannot be rotated.")
    if not isinstance(unlock, dict) or unlock.get("Password") != device.recovery_key:
        return "Error", error_chain(12071, "MCMDMErrorDomain", "The FileVault unlock credentials are incorrect.")
    device.recovery_key = new_recovery_key()
    sealed = seal_recovery_key(device.recovery_key, load_cert(command["ReplyEncryptionCertificate"]))
    return "Acknowledged", {"RotateResult": {"EncryptedNewRecoveryKey": sealed}}


def _firmware_text(value: Any) -> bool:
    """What EFI can type: low-ASCII printable characters (0x20-0x7E), "" clears."""
    return isinstance(value, str) and len(value) <= 32 and all(0x20 <= ord(c) <= 0x7E for c in value)


def _set_recovery_lock(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    if not device.facts.apple_silicon or command.get("CurrentPassword") != device.recovery_lock:
        return "Error", error_chain(12076, "MCMDMErrorDomain", "Recovery Lock cannot be set.")
    if not _firmware_text(command.get("NewPassword")):
        return "Error", error_chain(12077, "MCMDMErrorDomain", "The new Recovery Lock password is invalid.")
    device.recovery_lock = command.get("NewPassword") or None
    return "Acknowledged", {}


def _set_firmware_password(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    """Intel Macs: the change applies at the next restart (ChangePending until then)."""
    f = device.facts
    if f.platform != "macOS" or f.apple_silicon:
        return "Error", error_chain(12021, "MCMDMErrorDomain", "SetFirmwarePassword is not supported on this Mac.")
    if device.firmware_change_pending:
        return "Error", error_chain(12078, "MCMDMErrorDomain", "A firmware password change is pending a restart.")
    if device.firmware_password is not None and command.get("CurrentPassword") != device.firmware_password:
        return "Error", error_chain(12079, "MCMDMErrorDomain", "The current firmware password is incorrect.")
    if not _firmware_text(command.get("NewPassword")):
        return "Error", error_chain(12080, "MCMDMErrorDomain", "The new firmware password is invalid.")
    device.pending_firmware_password = command["NewPassword"] or None
    device.firmware_change_pending = True
    return "Acknowledged", {"SetFirmwarePassword": {"PasswordChanged": True}}


def _verify_firmware_password(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    if device.facts.platform != "macOS" or device.facts.apple_silicon:
        return "Error", error_chain(12021, "MCMDMErrorDomain", "VerifyFirmwarePassword is not supported on this Mac.")
    verified = device.firmware_password is not None and command.get("Password") == device.firmware_password
    return "Acknowledged", {"PasswordVerified": verified}


def _verify_recovery_lock(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    if not device.facts.apple_silicon:
        return "Error", error_chain(12021, "MCMDMErrorDomain", "VerifyRecoveryLock is not supported on this Mac.")
    verified = device.recovery_lock is not None and command.get("Password") == device.recovery_lock
    return "Acknowledged", {"PasswordVerified": verified}


def _acknowledge(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    return "Acknowledged", {}


def _declarative_management(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    """Turns DDM on; the sync runs once the session ends (`SimulatedDevice.connect`)."""
    data = command.get("Data")
    if data is not None:
        try:
            tokens = json.loads(data) if isinstance(data, bytes) else None
        except ValueError:
            tokens = None
        if not isinstance(tokens, dict):
            return "Error", error_chain(12021, "MCMDMErrorDomain", "Data is not a JSON object")
    device.ddm_enabled = device.ddm_sync_requested = True
    return "Acknowledged", {}


HANDLERS: dict[str, Callable[[SimulatedDevice, dict[str, Any]], Answer]] = {
    "DeviceInformation": _device_information, "SecurityInfo": _security_info,
    "ProfileList": _profile_list, "CertificateList": _certificate_list,
    "InstalledApplicationList": _installed_applications, "InstallProfile": _install_profile,
    "RemoveProfile": _remove_profile, "EraseDevice": _erase_device, "DeviceLock": _device_lock,
    "RestartDevice": _power, "ShutDownDevice": _power, "DeviceConfigured": _device_configured,
    "AccountConfiguration": _account_configuration,
    "DeclarativeManagement": _declarative_management, "Settings": _settings,
    "RotateFileVaultKey": _rotate_filevault_key, "SetRecoveryLock": _set_recovery_lock,
    "SetFirmwarePassword": _set_firmware_password, "VerifyFirmwarePassword": _verify_firmware_password,
    "VerifyRecoveryLock": _verify_recovery_lock,
    "AvailableOSUpdates": lambda d, c: ("Acknowledged", {"AvailableOSUpdates": []}),
    "InstallApplication": _install_application, "RemoveApplication": _remove_application,
    "ManagedApplicationList": _managed_applications,
}


def answer(device: SimulatedDevice, command: dict[str, Any]) -> Answer:
    """(Status, result keys) for one command dict (`{"RequestType": ..., ...}`)."""
    request_type = command.get("RequestType")
    if not isinstance(request_type, str):
        return "CommandFormatError", error_chain(12021, "MCMDMErrorDomain", "Missing RequestType")
    if device.locked:
        return "NotNow", {}
    if request_type in device.fail_commands:
        return "Error", error_chain(12000, "MCMDMErrorDomain", f"{request_type} failed (simulated)")
    handler = HANDLERS.get(request_type)
    if handler is None:
        return "Error", error_chain(12021, "MCMDMErrorDomain", "Unknown command")
    return handler(device, command)
