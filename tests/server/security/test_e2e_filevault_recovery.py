"""FileVault and recovery passwords end to end: simulated Macs (Apple silicon and Intel) on a
blueprint with both configurations, through HTTP, the reveals audited."""
from __future__ import annotations

from datetime import timedelta

import pytest

from sqlalchemy import select

from espalier.models import DeviceCommand, EnrolledDevice


@pytest.fixture
def blueprint(client, admin, enrollment):
    fv = client.post("/api/mdm/filevault_configs/", headers=admin, json={
        "name": "FV", "escrow_location_display_name": "Espalier IT", "prk_rotation_interval_days": 90}).json
    rp = client.post("/api/mdm/recovery_password_configs/", headers=admin, json={
        "name": "RP", "dynamic_password": True, "rotation_interval_days": 30, "rotate_firmware_password": True}).json
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={
        "name": "Secure", "filevault_config": fv["id"], "recovery_password_config": rp["id"]})
    assert bp.status_code == 201, bp.json
    assert client.put(f"/api/mdm/ota_enrollments/{enrollment['id']}/", headers=admin,
                      json={"blueprint": bp.json["id"]}).status_code == 200
    return {"filevault": fv, "recovery": rp, "blueprint": bp.json}


def _age(runtime, device_id, **columns):
    """Move the device's timestamps back, and its commands' (the interval passed)."""
    with runtime.db.session() as s, s.begin():
        device = s.get(EnrolledDevice, device_id)
        for column, delta in columns.items():
            setattr(device, column, getattr(device, column) - delta)
        oldest = max(columns.values())
        for command in s.scalars(select(DeviceCommand).where(DeviceCommand.enrolled_device_id == device_id)):
            command.created_at -= oldest
            command.result_time = command.result_time and command.result_time - oldest


def test_apple_silicon_mac_prk_escrowed_revealed_rotated_and_recovery_lock(client, admin, enrolled, blueprint,
                                                                          runtime):
    sim, device_id = enrolled("mac")
    handled = sim.connect()
    assert handled == [("DeviceInformation", "Acknowledged"), ("SecurityInfo", "Acknowledged"),
                       ("InstallProfile", "Acknowledged"), ("SecurityInfo", "Acknowledged"),
                       ("SetRecoveryLock", "Acknowledged")], (handled, sim.errors)
    assert sim.connect() == []  # converged
    device = client.get(f"/api/mdm/devices/{device_id}/", headers=admin).json
    assert device["filevault_enabled"] and device["filevault_prk_escrowed"] and device["recovery_password_escrowed"]

    prk = client.get(f"/api/mdm/devices/{device_id}/filevault_prk/", headers=admin).json
    assert prk == {"id": device_id, "serial_number": sim.facts.serial, "filevault_prk": sim.recovery_key}
    password = client.get(f"/api/mdm/devices/{device_id}/recovery_password/", headers=admin).json
    assert password["recovery_password"] == sim.recovery_lock and len(sim.recovery_lock) == 12
    events = client.get(f"/api/mdm/audit_events/?enrolled_device={device_id}", headers=admin).json
    assert [e["action"] for e in events] == ["recovery_password_viewed", "filevault_prk_viewed"]
    # rotation is on (90 days): a key an operator has seen is rotated at the next connect, once
    revealed = sim.recovery_key
    assert sim.connect() == [("RotateFileVaultKey", "Acknowledged")]
    assert sim.recovery_key != revealed
    assert client.get(f"/api/mdm/devices/{device_id}/", headers=admin).json["filevault_prk_escrowed"]
    assert sim.connect() == []

    old_key, old_lock = sim.recovery_key, sim.recovery_lock
    _age(runtime, device_id, filevault_prk_escrowed_at=timedelta(days=91), recovery_password_updated_at=timedelta(days=31))
    assert sim.connect() == [("RotateFileVaultKey", "Acknowledged"), ("SetRecoveryLock", "Acknowledged")]
    assert sim.recovery_key != old_key and sim.recovery_lock != old_lock
    assert client.get(f"/api/mdm/devices/{device_id}/filevault_prk/", headers=admin).json["filevault_prk"] == \
        sim.recovery_key
    assert client.get(f"/api/mdm/devices/{device_id}/recovery_password/", headers=admin).json[
        "recovery_password"] == sim.recovery_lock
    assert sim.connect() == [("RotateFileVaultKey", "Acknowledged")]  # revealed again: rotated again
    assert sim.connect() == []


def test_without_rotation_a_reveal_rotates_nothing(client, admin, enrolled, enrollment):
    fv = client.post("/api/mdm/filevault_configs/", headers=admin, json={
        "name": "FV0", "escrow_location_display_name": "Espalier IT"}).json
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "No rotation", "filevault_config": fv["id"]})
    client.put(f"/api/mdm/ota_enrollments/{enrollment['id']}/", headers=admin, json={"blueprint": bp.json["id"]})
    sim, device_id = enrolled("mac")
    sim.connect()
    assert client.get(f"/api/mdm/devices/{device_id}/filevault_prk/", headers=admin).json["filevault_prk"] == \
        sim.recovery_key
    assert sim.connect() == []


def test_intel_mac_firmware_password_applies_after_the_restart(client, admin, enrolled, blueprint):
    sim, device_id = enrolled("intel_t2")
    handled = sim.connect()
    assert handled[:5] == [("DeviceInformation", "Acknowledged"), ("SecurityInfo", "Acknowledged"),
                           ("InstallProfile", "Acknowledged"), ("SecurityInfo", "Acknowledged"),
                           ("SetFirmwarePassword", "Acknowledged")], (handled, sim.errors)
    assert handled[5:] == [("RestartDevice", "Acknowledged"), ("SecurityInfo", "Acknowledged"),
                           ("VerifyFirmwarePassword", "Acknowledged")]
    assert sim.firmware_password and not sim.firmware_change_pending
    password = client.get(f"/api/mdm/devices/{device_id}/recovery_password/", headers=admin).json
    assert password["recovery_password"] == sim.firmware_password
    assert sim.connect() == []
