"""Secrets reachable only with the permission for them, and bound to their row."""
from __future__ import annotations

import base64
import plistlib
import uuid

import pytest
from sqlalchemy import select

from espalier.models import DeviceCommand, EnrolledDevice, OtaEnrollment
from espalier.pki.secrets import SecretError


def _escrow_profile(cert_der: bytes) -> dict:
    cert_uuid = str(uuid.uuid4())
    return {"PayloadType": "Configuration", "PayloadVersion": 1, "PayloadIdentifier": "com.example.fv",
            "PayloadUUID": str(uuid.uuid4()), "PayloadContent": [
                {"PayloadType": "com.apple.security.pkcs1", "PayloadUUID": cert_uuid, "PayloadVersion": 1,
                 "PayloadIdentifier": "com.example.fv.cert", "PayloadContent": cert_der},
                {"PayloadType": "com.apple.security.FDERecoveryKeyEscrow", "PayloadVersion": 1,
                 "PayloadUUID": str(uuid.uuid4()), "PayloadIdentifier": "com.example.fv.escrow",
                 "Location": "Somewhere", "EncryptCertPayloadUUID": cert_uuid}]}


def _command(client, headers, device_id, name, arguments):
    return client.post(f"/api/mdm/devices/{device_id}/commands/", headers=headers,
                       json={"name": name, "arguments": arguments})


@pytest.mark.parametrize("name, arguments", [
    ("CustomCommand", {"command": {"RequestType": "SecurityInfo"}}),
    ("InstallProfile", {"payload": base64.b64encode(plistlib.dumps(
        {"PayloadType": "Configuration", "PayloadIdentifier": "com.example.x", "PayloadContent": []})).decode()}),
])
def test_raw_commands_need_their_own_permission(client, make_token, make_device, name, arguments):
    d = make_device()
    operator = make_token(role="operator")
    resp = _command(client, operator, d.id, name, arguments)
    assert resp.status_code == 403 and "mdm.add_raw_devicecommand" in resp.json["detail"]
    assert _command(client, make_token(role="admin"), d.id, name, arguments).status_code == 201
    assert _command(client, operator, d.id, "DeviceInformation", {}).status_code == 201


def test_escrow_payloads_not_made_by_the_server_are_refused(client, admin, make_device, runtime):
    from espalier.pki import cms

    d = make_device()
    ca = runtime.ca.get(runtime.db.session())
    profile = plistlib.dumps(_escrow_profile(b"operator certificate"))
    signed = cms.sign_attached(profile, ca.certificate, ca.key)
    filevault = plistlib.dumps({"PayloadType": "Configuration", "PayloadIdentifier": "com.example.fv2",
                                "PayloadContent": [{"PayloadType": "com.apple.MCX.FileVault2", "Enable": "On",
                                                    "OutputPath": "/tmp/prk.plist"}]})
    encrypted = plistlib.dumps({"PayloadType": "Configuration", "PayloadIdentifier": "com.example.enc",
                                "EncryptedPayloadContent": b"\x30\x00"})
    for payload, reason in ((profile, "made by the server only"), (signed, "made by the server only"),
                            (filevault, "made by the server only"), (encrypted, "cannot be checked")):
        resp = _command(client, admin, d.id, "InstallProfile", {"payload": base64.b64encode(payload).decode()})
        assert resp.status_code == 400 and any(reason in e for e in resp.json["payload"]), resp.json


def test_escrowed_secrets_never_appear_in_command_results(client, admin, enrolled, http, runtime):
    """The PRK in a SecurityInfo answer asked for by hand is stored redacted."""
    from espalier.sim.profiles import installed_payloads  # noqa: F401  (the sim escrows only with a profile)

    sim, device_id = enrolled("mac", filevault=True)
    ca_der = http.get("/scep/espalier", params={"operation": "GetCACert"}).content
    sim.profiles["com.example.fv"] = _escrow_profile(ca_der)  # installed by the server in a later issue
    resp = _command(client, admin, device_id, "CustomCommand", {"command": {"RequestType": "SecurityInfo"}})
    uuid_ = resp.json["uuid"]
    sim.connect()
    result = client.get(f"/api/mdm/devices/commands/{uuid_}/", headers=admin).json["result"]
    assert result["SecurityInfo"]["FDE_PersonalRecoveryKeyCMS"] == "<redacted>"
    assert sim.recovery_key not in str(result)
    with runtime.db.session() as s:
        stored = s.scalar(select(DeviceCommand.result).where(DeviceCommand.uuid == uuid_))
    assert sim.recovery_key not in str(stored)


def test_enrollment_secrets_are_not_shown_to_viewers(client, make_token, enrollment):
    viewer = client.get("/api/mdm/ota_enrollments/", headers=make_token(role="viewer")).json[0]
    assert viewer["secret"] is None and viewer["enroll_url"] is None and viewer["name"] == enrollment["name"]
    operator = client.get("/api/mdm/ota_enrollments/", headers=make_token(role="operator")).json[0]
    assert operator["secret"] == enrollment["secret"] and operator["enroll_url"] == enrollment["enroll_url"]


def test_a_ciphertext_copied_onto_another_row_does_not_decrypt(client, make_token, make_device, runtime):
    a, b = make_device(), make_device()
    with runtime.db.session() as s, s.begin():
        runtime.secrets.seal(s.get(EnrolledDevice, a.id), "filevault_prk", "AAAA-AAAA")
    with runtime.db.session() as s, s.begin():
        s.get(EnrolledDevice, b.id).filevault_prk = s.get(EnrolledDevice, a.id).filevault_prk
    reader = make_token("mdm.view_filevault_prk")
    resp = client.get(f"/api/mdm/devices/{b.id}/filevault_prk/", headers=reader)
    assert resp.status_code == 409 and "cannot be decrypted" in resp.json["detail"]
    assert client.get(f"/api/mdm/devices/{a.id}/filevault_prk/", headers=reader).json["filevault_prk"] == "AAAA-AAAA"
    with runtime.db.session() as s, pytest.raises(SecretError):
        runtime.secrets.open(s.get(EnrolledDevice, b.id), "filevault_prk")


def test_enrollment_secret_and_command_arguments_are_bound_too(runtime, enrollment, make_device, client, admin):
    d = make_device(platform="macOS", apple_silicon=True)
    client.post(f"/api/mdm/devices/{d.id}/lock/", headers=admin, json={"pin": "654321"})
    with runtime.db.session() as s, s.begin():
        cmd = s.scalar(select(DeviceCommand))
        other = DeviceCommand(uuid=str(uuid.uuid4()), enrolled_device_id=d.id, name="DeviceLock",
                              arguments=cmd.arguments)
        s.add(other)
        e = s.scalar(select(OtaEnrollment))
        assert runtime.secrets.open_str(e, "secret") == enrollment["secret"]
    with runtime.db.session() as s:
        moved = s.scalar(select(DeviceCommand).where(DeviceCommand.uuid == other.uuid))
        with pytest.raises(SecretError):
            runtime.secrets.open(moved, "arguments")
