"""The simulated device's answers: right shapes per RequestType, per platform, per knob."""
from __future__ import annotations

import plistlib
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from espalier.pki import ca
from espalier.sim import answers
from espalier.sim.answers import answer
from espalier.sim.device import SimulatedDevice

from sim_fakes import sign_profile


def _profile(identifier: str, *payloads: dict) -> dict:
    return {"PayloadType": "Configuration", "PayloadVersion": 1, "PayloadIdentifier": identifier,
            "PayloadUUID": str(uuid.uuid4()), "PayloadDisplayName": identifier, "PayloadContent": list(payloads)}


def _install(device: SimulatedDevice, data: bytes) -> tuple[str, dict]:
    return answer(device, {"RequestType": "InstallProfile", "Payload": data})


@pytest.fixture(scope="module")
def escrow() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    return ca.create_ca("FileVault escrow")


def _escrow_profile(cert: x509.Certificate, *extra: dict) -> bytes:
    cert_uuid = str(uuid.uuid4())
    return plistlib.dumps(_profile(
        "com.example.fv",
        {"PayloadType": "com.apple.security.pkcs1", "PayloadUUID": cert_uuid, "PayloadIdentifier": "fv.cert",
         "PayloadVersion": 1, "PayloadContent": cert.public_bytes(serialization.Encoding.DER)},
        {"PayloadType": "com.apple.security.FDERecoveryKeyEscrow", "PayloadUUID": str(uuid.uuid4()),
         "PayloadIdentifier": "fv.escrow", "PayloadVersion": 1, "Location": "Espalier",
         "EncryptCertPayloadUUID": cert_uuid}, *extra))


def test_device_information_answers_only_the_queries_asked():
    device = SimulatedDevice.iphone()
    status, result = answer(device, {"RequestType": "DeviceInformation",
                                     "Queries": ["UDID", "SerialNumber", "IMEI", "IsAppleSilicon", "NoSuchQuery"]})
    assert status == "Acknowledged"
    assert result["QueryResponses"] == {"UDID": device.facts.udid, "SerialNumber": device.facts.serial,
                                        "IMEI": device.facts.imei}


def test_device_information_without_queries_returns_everything_known():
    status, result = answer(SimulatedDevice.mac(), {"RequestType": "DeviceInformation"})
    assert status == "Acknowledged"
    responses = result["QueryResponses"]
    assert responses["IsAppleSilicon"] is True and responses["ProductName"] == "Mac14,2"
    assert responses["SoftwareUpdateDeviceID"] == "J413AP" and responses["EACSPreflight"] == "success"


@pytest.mark.parametrize(("device", "pin"), [
    (SimulatedDevice.mac(), False), (SimulatedDevice.intel_mac(t2=True), False),
    (SimulatedDevice.intel_mac(t2=False), True)])
def test_pin_is_required_only_on_macs_without_t2(device, pin):
    _, result = answer(device, {"RequestType": "DeviceInformation",
                                "Queries": ["PINRequiredForDeviceLock", "PINRequiredForEraseDevice"]})
    assert result["QueryResponses"] == {"PINRequiredForDeviceLock": pin, "PINRequiredForEraseDevice": pin}
    erase = answer(device, {"RequestType": "EraseDevice"})
    assert erase[0] == ("Error" if pin else "Acknowledged")
    assert answer(device, {"RequestType": "EraseDevice", "PIN": "123456"})[0] == "Acknowledged"


def test_security_info_shapes_per_platform():
    _, apple_silicon = answer(SimulatedDevice.mac(dep=True), {"RequestType": "SecurityInfo"})
    info = apple_silicon["SecurityInfo"]
    assert info["ManagementStatus"] == {"EnrolledViaDEP": True, "UserApprovedEnrollment": True,
                                        "IsUserEnrollment": False, "IsActivationLockManageable": False}
    assert info["IsRecoveryLockEnabled"] is False and "FirmwarePasswordStatus" not in info
    assert info["FDE_Enabled"] is False and "FDE_PersonalRecoveryKeyCMS" not in info
    _, intel = answer(SimulatedDevice.intel_mac(t2=False), {"RequestType": "SecurityInfo"})
    assert intel["SecurityInfo"]["FirmwarePasswordStatus"]["PasswordExists"] is False
    assert intel["SecurityInfo"]["SecureBoot"]["SecureBootLevel"] == "not supported"
    _, ios = answer(SimulatedDevice.ipad(), {"RequestType": "SecurityInfo"})
    assert ios["SecurityInfo"]["PasscodePresent"] is True and "FDE_Enabled" not in ios["SecurityInfo"]


def test_prk_is_escrowed_to_the_escrow_certificate_when_filevault_is_on(escrow):
    device = SimulatedDevice.mac(filevault=True)
    assert _install(device, _escrow_profile(escrow[0])) == ("Acknowledged", {})
    _, result = answer(device, {"RequestType": "SecurityInfo"})
    info = result["SecurityInfo"]
    assert info["FDE_Enabled"] is True and info["FDE_PersonalRecoveryKeyDeviceKey"] == device.facts.serial
    prk = pkcs7.pkcs7_decrypt_der(info["FDE_PersonalRecoveryKeyCMS"], escrow[0], escrow[1], [])
    assert prk.decode() == device.recovery_key and len(device.recovery_key) == 29


def test_no_prk_while_filevault_is_off_until_a_filevault_payload_turns_it_on(escrow):
    device = SimulatedDevice.intel_mac()
    _install(device, _escrow_profile(escrow[0]))
    assert "FDE_PersonalRecoveryKeyCMS" not in answer(device, {"RequestType": "SecurityInfo"})[1]["SecurityInfo"]
    _install(device, _escrow_profile(escrow[0], {"PayloadType": "com.apple.MCX.FileVault2", "Enable": "On",
                                                 "PayloadIdentifier": "fv.enable", "PayloadUUID": "x"}))
    assert "FDE_PersonalRecoveryKeyCMS" in answer(device, {"RequestType": "SecurityInfo"})[1]["SecurityInfo"]


def test_rotate_filevault_key_seals_a_new_key_to_the_reply_certificate(escrow):
    device = SimulatedDevice.mac(filevault=True)
    old = device.recovery_key
    status, result = answer(device, {"RequestType": "RotateFileVaultKey", "KeyType": "personal",
                                     "FileVaultUnlock": {"Password": old},
                                     "ReplyEncryptionCertificate": escrow[0].public_bytes(serialization.Encoding.DER)})
    assert status == "Acknowledged" and device.recovery_key != old
    sealed = result["RotateResult"]["EncryptedNewRecoveryKey"]
    assert pkcs7.pkcs7_decrypt_der(sealed, escrow[0], escrow[1], []).decode() == device.recovery_key


def test_signed_profile_is_installed_and_listed_with_its_signer(signer):
    device = SimulatedDevice.iphone()
    data = sign_profile(_profile("com.example.wifi", {"PayloadType": "com.apple.wifi.managed",
                                                      "PayloadIdentifier": "w", "PayloadUUID": "u"}), *signer)
    assert _install(device, data) == ("Acknowledged", {})
    status, result = answer(device, {"RequestType": "ProfileList"})
    (entry,) = result["ProfileList"]
    assert entry["PayloadIdentifier"] == "com.example.wifi" and entry["IsManaged"] is True
    assert entry["PayloadContent"] == [{"PayloadType": "com.apple.wifi.managed", "PayloadIdentifier": "w",
                                        "PayloadUUID": "u"}]
    assert entry["SignerCertificates"] == [signer[0].public_bytes(serialization.Encoding.DER)]


def test_tampered_or_unreadable_profiles_are_refused(signer):
    device = SimulatedDevice.mac()
    data = bytearray(sign_profile(_profile("com.example.x"), *signer))
    data[data.index(b"com.example.x")] ^= 1
    for payload in (bytes(data), b"not a profile", plistlib.dumps(["no", "dict"])):
        status, result = _install(device, payload)
        assert status == "Error" and result["ErrorChain"][0]["ErrorDomain"] == "MCProfileErrorDomain"
    assert device.profiles == {}


def test_encrypted_profile_is_opened_with_the_device_identity(device_ca):
    device = SimulatedDevice.mac()
    key = rsa.generate_private_key(65537, 2048)
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dev")])).sign(key, hashes.SHA256())
    device.identity_cert, device.identity_key = ca.issue_certificate(*device_ca, csr), key
    inner = plistlib.dumps([{"PayloadType": "com.apple.dock", "PayloadIdentifier": "d", "PayloadUUID": "1"}])
    sealed = (pkcs7.PKCS7EnvelopeBuilder().set_data(inner).add_recipient(device.identity_cert)
              .encrypt(serialization.Encoding.DER, []))
    profile = {"PayloadIdentifier": "com.example.enc", "PayloadUUID": "2", "PayloadType": "Configuration",
               "PayloadVersion": 1, "EncryptedPayloadContent": sealed}
    assert _install(device, plistlib.dumps(profile)) == ("Acknowledged", {})
    assert device.profiles["com.example.enc"]["PayloadContent"][0]["PayloadType"] == "com.apple.dock"
    _, certs = answer(device, {"RequestType": "CertificateList"})
    assert certs["CertificateList"][0]["IsIdentity"] is True and certs["CertificateList"][0]["CommonName"] == "dev"


def test_remove_profile_removes_known_and_refuses_unknown_identifiers():
    device = SimulatedDevice.mac()
    _install(device, plistlib.dumps(_profile("com.example.a")))
    assert answer(device, {"RequestType": "RemoveProfile", "Identifier": "com.example.a"})[0] == "Acknowledged"
    status, result = answer(device, {"RequestType": "RemoveProfile", "Identifier": "com.example.a"})
    assert status == "Error" and result["ErrorChain"][0]["ErrorCode"] == 1001


def test_installed_application_list_honours_identifiers():
    _, result = answer(SimulatedDevice.mac(), {"RequestType": "InstalledApplicationList",
                                               "Identifiers": ["com.google.Chrome"]})
    (app,) = result["InstalledApplicationList"]
    assert app["Identifier"] == "com.google.Chrome" and {"Name", "Version", "ShortVersion"} <= set(app)
    assert len(answer(SimulatedDevice.iphone(), {"RequestType": "InstalledApplicationList"})[1][
        "InstalledApplicationList"]) == 3


def test_device_lock_reports_message_result_on_ios_only():
    assert answer(SimulatedDevice.iphone(), {"RequestType": "DeviceLock"}) == (
        "Acknowledged", {"MessageResult": "Success"})
    mac = SimulatedDevice.mac()
    assert answer(mac, {"RequestType": "DeviceLock", "PIN": "123456"}) == ("Acknowledged", {})
    assert mac.actions == [("DeviceLock", "123456")]


def test_device_configured_clears_awaiting_configuration():
    device = SimulatedDevice.mac(dep=True)
    assert device.awaiting_configuration is True
    assert answer(device, {"RequestType": "DeviceConfigured"}) == ("Acknowledged", {})
    assert device.awaiting_configuration is False


def test_restart_needs_supervision_on_ios_but_not_on_macos():
    assert answer(SimulatedDevice.iphone(), {"RequestType": "RestartDevice"})[0] == "Error"
    assert answer(SimulatedDevice.iphone(supervised=True), {"RequestType": "RestartDevice"})[0] == "Acknowledged"
    assert answer(SimulatedDevice.mac(), {"RequestType": "ShutDownDevice"})[0] == "Acknowledged"


def test_locked_device_answers_notnow_to_every_command():
    device = SimulatedDevice.iphone(locked=True)
    for request_type in [*answers.HANDLERS, "Bogus"]:
        assert answer(device, {"RequestType": request_type}) == ("NotNow", {})


def test_failing_commands_answer_error_with_an_error_chain():
    device = SimulatedDevice.mac(fail_commands={"ProfileList"})
    status, result = answer(device, {"RequestType": "ProfileList"})
    assert status == "Error"
    assert set(result["ErrorChain"][0]) == {"ErrorCode", "ErrorDomain", "LocalizedDescription",
                                            "USEnglishDescription"}


def test_unknown_command_is_an_error_12021():
    status, result = answer(SimulatedDevice.mac(), {"RequestType": "MakeCoffee"})
    assert status == "Error"
    assert result["ErrorChain"] == [{"ErrorCode": 12021, "ErrorDomain": "MCMDMErrorDomain",
                                     "LocalizedDescription": "Unknown command",
                                     "USEnglishDescription": "Unknown command"}]
    assert answer(SimulatedDevice.mac(), {})[0] == "CommandFormatError"


@pytest.mark.parametrize("request_type", sorted(answers.HANDLERS))
@pytest.mark.parametrize("flavour", ["mac", "intel_t1", "iphone", "ipad"])
def test_every_answer_is_a_plist_report(request_type, flavour):
    device = SimulatedDevice.flavour(flavour, filevault=True)
    status, result = answer(device, {"RequestType": request_type})
    assert status in {"Acknowledged", "Error", "CommandFormatError"}
    report = {"UDID": device.facts.udid, "Status": status, "CommandUUID": "c", **result}
    assert plistlib.loads(plistlib.dumps(report)) == report


def test_firmware_password_applies_at_the_restart_and_verifies(escrow):
    mac = SimulatedDevice.intel_mac()
    status, result = answer(mac, {"RequestType": "SetFirmwarePassword", "NewPassword": "abcdefgh"})
    assert (status, result) == ("Acknowledged", {"SetFirmwarePassword": {"PasswordChanged": True}})
    info = answer(mac, {"RequestType": "SecurityInfo"})[1]["SecurityInfo"]["FirmwarePasswordStatus"]
    assert (info["PasswordExists"], info["ChangePending"]) == (False, True)
    assert answer(mac, {"RequestType": "SetFirmwarePassword", "NewPassword": "x"})[0] == "Error"  # pending
    assert answer(mac, {"RequestType": "VerifyFirmwarePassword", "Password": "abcdefgh"})[1] == {
        "PasswordVerified": False}
    assert answer(mac, {"RequestType": "RestartDevice", "NotifyUser": True})[0] == "Acknowledged"
    info = answer(mac, {"RequestType": "SecurityInfo"})[1]["SecurityInfo"]["FirmwarePasswordStatus"]
    assert (info["PasswordExists"], info["ChangePending"]) == (True, False)
    assert answer(mac, {"RequestType": "VerifyFirmwarePassword", "Password": "abcdefgh"})[1] == {
        "PasswordVerified": True}
    # a change needs the current password
    assert answer(mac, {"RequestType": "SetFirmwarePassword", "NewPassword": "newpass1"})[0] == "Error"
    assert answer(mac, {"RequestType": "SetFirmwarePassword", "CurrentPassword": "wrong",
                        "NewPassword": "newpass1"})[0] == "Error"
    assert answer(mac, {"RequestType": "SetFirmwarePassword", "CurrentPassword": "abcdefgh",
                        "NewPassword": "newpass\u00e9"})[0] == "Error"  # not typable in EFI
    assert answer(mac, {"RequestType": "SetFirmwarePassword", "CurrentPassword": "abcdefgh",
                        "NewPassword": "newpass1"})[0] == "Acknowledged"
    assert answer(SimulatedDevice.mac(), {"RequestType": "SetFirmwarePassword", "NewPassword": "x"})[0] == "Error"
    assert answer(SimulatedDevice.mac(), {"RequestType": "VerifyFirmwarePassword", "Password": "x"})[0] == "Error"


def test_recovery_lock_on_apple_silicon_only_with_the_current_password():
    mac = SimulatedDevice.mac()
    assert answer(mac, {"RequestType": "SetRecoveryLock", "NewPassword": "lock1234"})[0] == "Acknowledged"
    assert answer(mac, {"RequestType": "VerifyRecoveryLock", "Password": "lock1234"})[1] == {"PasswordVerified": True}
    assert answer(mac, {"RequestType": "VerifyRecoveryLock", "Password": "nope"})[1] == {"PasswordVerified": False}
    assert answer(mac, {"RequestType": "SetRecoveryLock", "NewPassword": "x2"})[0] == "Error"
    assert answer(mac, {"RequestType": "SetRecoveryLock", "CurrentPassword": "lock1234",
                        "NewPassword": "lock5678"})[0] == "Acknowledged" and mac.recovery_lock == "lock5678"
    intel = SimulatedDevice.intel_mac()
    assert answer(intel, {"RequestType": "SetRecoveryLock", "NewPassword": "lock1234"})[0] == "Error"
    assert answer(intel, {"RequestType": "VerifyRecoveryLock", "Password": "x"})[0] == "Error"


def test_rotation_needs_the_current_recovery_key(escrow):
    device = SimulatedDevice.mac(filevault=True)
    cert = escrow[0].public_bytes(serialization.Encoding.DER)
    for unlock in (None, {"Password": "WRONG-KEY"}):
        command = {"RequestType": "RotateFileVaultKey", "KeyType": "personal", "ReplyEncryptionCertificate": cert}
        if unlock:
            command["FileVaultUnlock"] = unlock
        assert answer(device, command)[0] == "Error"


def test_filevault_deferred_until_login_and_on_after_the_profile_goes(escrow):
    device = SimulatedDevice.mac()
    device.filevault_deferred = True
    _install(device, _escrow_profile(escrow[0], {"PayloadType": "com.apple.MCX.FileVault2", "Enable": "On",
                                                 "PayloadIdentifier": "fv.enable", "PayloadUUID": "x"}))
    assert answer(device, {"RequestType": "SecurityInfo"})[1]["SecurityInfo"]["FDE_Enabled"] is False
    device.filevault_deferred = False
    assert answer(device, {"RequestType": "SecurityInfo"})[1]["SecurityInfo"]["FDE_Enabled"] is True
    assert answer(device, {"RequestType": "RemoveProfile", "Identifier": "com.example.fv"})[0] == "Acknowledged"
    info = answer(device, {"RequestType": "SecurityInfo"})[1]["SecurityInfo"]
    assert info["FDE_Enabled"] is True and "FDE_PersonalRecoveryKeyCMS" not in info
