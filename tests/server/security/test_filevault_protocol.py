"""The FileVault steps: the profile (per-device escrow certificate), the PRK's escrow, rotation."""
from __future__ import annotations

import base64
import plistlib
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from espalier.mdm import filevault
from espalier.models import DeviceCommand, EnrolledDevice
from espalier.pki import cms


def _commands(runtime, device_id, *names):
    with runtime.db.session() as s:
        return list(s.scalars(select(DeviceCommand.name).where(
            DeviceCommand.enrolled_device_id == device_id, DeviceCommand.name.in_(names)).order_by(DeviceCommand.id)))


def test_the_profile_escrows_to_the_devices_own_certificate_whose_key_opens_the_prk(enrolled, configs, runtime,
                                                                                   device_row):
    configs(filevault={"at_login_only": True, "bypass_attempts": 2, "show_recovery_key": True,
                       "destroy_key_on_standby": True})
    sim, device_id = enrolled("mac")
    other, other_id = enrolled("mac")
    sim.connect()
    other.connect()
    profile = sim.profiles[filevault.PROFILE_IDENTIFIER]
    by_type = {p["PayloadType"]: p for p in profile["PayloadContent"]}
    fv = by_type["com.apple.MCX.FileVault2"]
    assert (fv["Enable"], fv["Defer"], fv["UseRecoveryKey"], fv["ShowRecoveryKey"], fv["DeferDontAskAtUserLogout"],
            fv["DeferForceAtUserLoginMaxBypassAttempts"]) == ("On", True, True, True, True, 2)
    assert by_type["com.apple.MCX"]["DestroyFVKeyOnStandby"] is True
    escrow = by_type["com.apple.security.FDERecoveryKeyEscrow"]
    cert_payload = by_type["com.apple.security.pkcs1"]
    assert escrow["Location"] == "Espalier IT" and escrow["EncryptCertPayloadUUID"] == cert_payload["PayloadUUID"]
    cert = x509.load_der_x509_certificate(cert_payload["PayloadContent"])
    row, other_row = device_row(device_id), device_row(other_id)
    assert row.filevault_escrow_certificate == cert.public_bytes(serialization.Encoding.PEM).decode()
    assert other_row.filevault_escrow_certificate != row.filevault_escrow_certificate  # per device
    assert "PRIVATE KEY" not in (row.filevault_escrow_key or "")  # sealed
    # the stored key opens what the Mac sealed; the other Mac's does not
    sealed = cms.encrypt_enveloped(b"ABCD-EFGH", cert)
    with runtime.db.session() as s:
        ctx = runtime.mdm_context(s)
        assert filevault.open_prk(ctx, s.get(EnrolledDevice, device_id), sealed) == "ABCD-EFGH"
        assert filevault.open_prk(ctx, s.get(EnrolledDevice, other_id), sealed) is None
        assert filevault.open_prk(ctx, s.get(EnrolledDevice, device_id), b"\x30\x03garbage") is None
        assert runtime.secrets.open_str(s.get(EnrolledDevice, device_id), "filevault_prk") == sim.recovery_key
    assert row.filevault_prk_escrowed_at is not None and row.filevault_profile_token


def test_a_config_change_reinstalls_once_a_rename_does_not_and_removal_removes_once(client, admin, enrolled, configs,
                                                                                  runtime, device_row):
    bp = configs(filevault={})
    sim, device_id = enrolled("mac")
    sim.connect()
    first = device_row(device_id).filevault_profile_token
    fv_id = bp["filevault_config"]
    url = f"/api/mdm/filevault_configs/{fv_id}/"
    assert client.put(url, headers=admin, json={"name": "Renamed", "escrow_location_display_name": "Espalier IT",
                                                 "prk_rotation_interval_days": 30}).status_code == 200
    assert sim.connect() == []  # nothing in the profile changed
    assert client.put(url, headers=admin, json={"name": "Renamed", "escrow_location_display_name": "Help desk"}
                      ).status_code == 200
    assert sim.connect() == [("InstallProfile", "Acknowledged")]
    assert sim.connect() == []  # once
    assert device_row(device_id).filevault_profile_token != first
    escrow = [p for p in sim.profiles[filevault.PROFILE_IDENTIFIER]["PayloadContent"]
              if p["PayloadType"] == "com.apple.security.FDERecoveryKeyEscrow"]
    assert escrow[0]["Location"] == "Help desk"
    assert client.put(f"/api/mdm/blueprints/{bp['id']}/", headers=admin, json={
        "name": bp["name"], "filevault_config": None}).status_code == 200
    assert sim.connect() == [("RemoveProfile", "Acknowledged")]
    assert filevault.PROFILE_IDENTIFIER not in sim.profiles and sim.connect() == []
    assert device_row(device_id).filevault_profile_token is None
    assert _commands(runtime, device_id, "SetupFileVault", "RemoveFileVault") == [
        "SetupFileVault", "SetupFileVault", "RemoveFileVault"]


def test_never_queued_twice_while_pending_and_a_failure_backs_off(enrolled, configs, runtime, age):
    configs(filevault={})
    sim, device_id = enrolled("mac")
    sim.locked = True  # answers NotNow: the profile stays pending
    sim.connect()
    sim.connect()
    assert _commands(runtime, device_id, "SetupFileVault") == ["SetupFileVault"]
    sim.locked = False
    sim.fail_commands = {"InstallProfile"}
    assert sim.connect()[-1] == ("InstallProfile", "Error")  # after the inventory it had deferred
    assert sim.connect() == []  # backing off
    sim.fail_commands = set()
    age(device_id, filevault.BACKOFF + timedelta(minutes=1))
    assert ("InstallProfile", "Acknowledged") in sim.connect()
    assert _commands(runtime, device_id, "SetupFileVault") == ["SetupFileVault"] * 2


def test_prk_collected_with_security_info_at_most_hourly_until_filevault_is_on(enrolled, configs, runtime, age,
                                                                              device_row):
    configs(filevault={})
    sim, device_id = enrolled("intel_t2")
    sim.filevault_deferred = True  # FileVault comes on at the user's next login
    assert sim.connect()[-2:] == [("InstallProfile", "Acknowledged"), ("SecurityInfo", "Acknowledged")]
    assert device_row(device_id).filevault_prk is None
    assert sim.connect() == []  # polled at most every PRK_POLL
    age(device_id, filevault.PRK_POLL + timedelta(minutes=1), "last_inventory_at")
    assert sim.connect() == [("SecurityInfo", "Acknowledged")]
    assert sim.connect() == []
    sim.filevault_deferred = False  # the user logged in
    age(device_id, filevault.PRK_POLL + timedelta(minutes=1), "last_inventory_at")
    assert sim.connect() == [("SecurityInfo", "Acknowledged")]
    row = device_row(device_id)
    assert row.filevault_prk and row.filevault_prk_escrowed_at and row.filevault_enabled
    age(device_id, filevault.PRK_POLL + timedelta(minutes=1), "last_inventory_at")
    assert sim.connect() == []  # escrowed: no more polling


def test_rotation_at_the_interval_replaces_the_prk_a_failed_one_keeps_it(client, admin, enrolled, configs, runtime,
                                                                        age, device_row):
    configs(filevault={"prk_rotation_interval_days": 10})
    sim, device_id = enrolled("mac")
    sim.connect()
    first_key = sim.recovery_key
    age(device_id, timedelta(days=9), "filevault_prk_escrowed_at")
    assert sim.connect() == []
    age(device_id, timedelta(days=2), "filevault_prk_escrowed_at")
    sim.fail_commands = {"RotateFileVaultKey"}
    assert sim.connect() == [("RotateFileVaultKey", "Error")]
    assert sim.connect() == []  # backs off
    prk = client.get(f"/api/mdm/devices/{device_id}/filevault_prk/", headers=admin).json["filevault_prk"]
    assert prk == first_key  # kept
    sim.fail_commands = set()
    age(device_id, filevault.BACKOFF, "filevault_prk_escrowed_at")
    assert sim.connect() == [("RotateFileVaultKey", "Acknowledged")]
    command = [c for c in sim.commands if c.request_type == "RotateFileVaultKey"][-1].command
    assert command["KeyType"] == "personal" and command["FileVaultUnlock"] == {"Password": first_key}
    assert x509.load_der_x509_certificate(command["ReplyEncryptionCertificate"]).public_bytes(
        serialization.Encoding.PEM).decode() == device_row(device_id).filevault_escrow_certificate
    assert sim.recovery_key != first_key
    assert client.get(f"/api/mdm/devices/{device_id}/filevault_prk/", headers=admin).json[
        "filevault_prk"] == sim.recovery_key
    assert sim.connect() == [("RotateFileVaultKey", "Acknowledged")]  # the reveal just above: rotated once
    assert sim.connect() == []  # then the interval counts again from this escrow


def test_operators_cannot_queue_the_servers_filevault_commands(client, admin, enrolled):
    sim, device_id = enrolled("mac")
    for name in ("SetupFileVault", "RemoveFileVault", "RotateFileVaultKey", "SetRecoveryLock", "SetFirmwarePassword"):
        resp = client.post(f"/api/mdm/devices/{device_id}/commands/", headers=admin, json={"name": name})
        assert resp.status_code == 400 and "queued by the server only" in resp.json["detail"], resp.json


def test_the_profile_payload_is_the_installed_one(enrolled, configs, runtime):
    configs(filevault={})
    sim, device_id = enrolled("mac")
    sim.connect()
    with runtime.db.session() as s:
        command = s.scalar(select(DeviceCommand).where(DeviceCommand.name == "SetupFileVault"))
        from espalier.mdm.queue import command_arguments
        args = command_arguments(runtime.secrets, command)
        assert plistlib.loads(base64.b64decode(args["Payload"])) == sim.profiles[filevault.PROFILE_IDENTIFIER]
        assert s.scalar(select(func.count()).select_from(DeviceCommand).where(
            DeviceCommand.name == "SetupFileVault")) == 1
