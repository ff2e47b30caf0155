"""The recovery password step: SetRecoveryLock (Apple silicon), SetFirmwarePassword (Intel),
the new password pending until the device applies it, errors keeping the current one."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from espalier.mdm import filevault, recovery_password
from espalier.mdm.queue import command_arguments
from espalier.models import DeviceCommand


def _reveal(client, admin, device_id):
    return client.get(f"/api/mdm/devices/{device_id}/recovery_password/", headers=admin).json["recovery_password"]


def test_generated_passwords_are_zentrals_shape():
    passwords = {recovery_password.generate_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) == 12 and p.isalnum() and p.isascii() for p in passwords)


def test_static_password_set_once_never_rotated_and_the_current_one_sent(client, admin, enrolled, configs, age):
    configs(recovery={"dynamic_password": False, "static_password": "Sesame-2024"})
    sim, device_id = enrolled("mac")
    assert ("SetRecoveryLock", "Acknowledged") in sim.connect()
    assert sim.recovery_lock == "Sesame-2024" == _reveal(client, admin, device_id)
    age(device_id, timedelta(days=400), "recovery_password_updated_at")
    assert sim.connect() == []  # no rotation with a static password


def test_rotation_sends_the_current_password_a_wrong_one_errors_and_keeps_it(client, admin, enrolled, configs, age,
                                                                           runtime):
    configs(recovery={"rotation_interval_days": 7})
    sim, device_id = enrolled("mac")
    sim.connect()
    first = sim.recovery_lock
    assert first and _reveal(client, admin, device_id) == first
    sim.recovery_lock = "changed-locally"  # the device no longer has what we stored
    age(device_id, timedelta(days=8), "recovery_password_updated_at")
    assert sim.connect() == [("SetRecoveryLock", "Error")]
    assert _reveal(client, admin, device_id) == first  # an Error keeps the current one
    with runtime.db.session() as s:
        command = s.scalar(select(DeviceCommand).where(DeviceCommand.name == "SetRecoveryLock")
                           .order_by(DeviceCommand.id.desc()))
        args = command_arguments(runtime.secrets, command)
        assert args["CurrentPassword"] == first and args["NewPassword"] != first
        assert first not in (command.arguments or "")  # sealed
    assert sim.connect() == []  # backs off
    sim.recovery_lock = first
    age(device_id, filevault.BACKOFF, "recovery_password_updated_at")
    assert sim.connect() == [("SetRecoveryLock", "Acknowledged")]
    assert sim.recovery_lock != first and _reveal(client, admin, device_id) == sim.recovery_lock


def test_intel_firmware_password_pending_until_a_security_info_shows_it(client, admin, enrolled, configs,
                                                                       device_row, age):
    configs(recovery={})
    sim, device_id = enrolled("intel_t2")
    original_power = sim.fail_commands
    sim.fail_commands = {"RestartDevice"}  # the user postpones the restart
    handled = sim.connect()
    assert handled[-2:] == [("SetFirmwarePassword", "Acknowledged"), ("RestartDevice", "Error")], handled
    row = device_row(device_id)
    assert row.pending_recovery_password and row.pending_recovery_password_at and row.recovery_password is None
    assert sim.firmware_change_pending and sim.firmware_password is None
    assert client.get(f"/api/mdm/devices/{device_id}/", headers=admin).json["recovery_password_escrowed"] is False
    assert sim.connect() == []  # no second SetFirmwarePassword while one is pending
    sim.fail_commands = original_power
    sim.firmware_change_pending, sim.firmware_password = False, sim.pending_firmware_password  # restarted
    age(device_id, filevault.BACKOFF, "pending_recovery_password_at", "last_inventory_at")
    assert sim.connect() == [("SecurityInfo", "Acknowledged"), ("VerifyFirmwarePassword", "Acknowledged")]
    verify = [c for c in sim.commands if c.request_type == "VerifyFirmwarePassword"][-1].command
    assert verify["Password"] == sim.firmware_password  # the pending one, checked before it is stored
    row = device_row(device_id)
    assert row.pending_recovery_password is None and row.recovery_password_updated_at
    assert _reveal(client, admin, device_id) == sim.firmware_password
    assert sim.connect() == []


def test_a_firmware_password_the_mac_does_not_verify_is_dropped_and_the_stored_one_kept(
        client, admin, enrolled, configs, device_row, age):
    configs(recovery={})
    sim, device_id = enrolled("intel_t2")
    sim.fail_commands = {"RestartDevice"}
    sim.connect()
    sim.fail_commands = set()
    sim.firmware_change_pending, sim.firmware_password = False, "someone-else"  # another password took its place
    age(device_id, filevault.BACKOFF, "pending_recovery_password_at", "last_inventory_at")
    # not verified: dropped; the server tries again, the Mac refuses it (its password is not ours), back-off
    assert sim.connect() == [("SecurityInfo", "Acknowledged"), ("VerifyFirmwarePassword", "Acknowledged"),
                             ("SetFirmwarePassword", "Error")]
    row = device_row(device_id)
    assert row.pending_recovery_password is None and row.pending_recovery_password_at is None
    assert row.recovery_password is None  # nothing stored that the Mac does not have
    assert sim.connect() == []


def test_intel_rotation_only_with_rotate_firmware_password(client, admin, enrolled, configs, age):
    configs(recovery={"rotation_interval_days": 5})
    sim, device_id = enrolled("intel_t2")
    sim.connect()
    first = sim.firmware_password
    assert first and _reveal(client, admin, device_id) == first
    age(device_id, timedelta(days=6), "recovery_password_updated_at")
    assert sim.connect() == []  # rotate_firmware_password is off


def test_leaving_the_configuration_keeps_the_password(client, admin, enrolled, configs):
    bp = configs(recovery={})
    sim, device_id = enrolled("mac")
    sim.connect()
    lock = sim.recovery_lock
    assert client.put(f"/api/mdm/blueprints/{bp['id']}/", headers=admin, json={
        "name": bp["name"], "recovery_password_config": None}).status_code == 200
    assert sim.connect() == [] and sim.recovery_lock == lock == _reveal(client, admin, device_id)
