"""Simulated devices enroll over the air, get inventoried, and receive lock and erase."""
from __future__ import annotations

import pytest



@pytest.fixture
def mdm_settings(both_identity_modes):
    return both_identity_modes


def commands(client, admin, device_id, **filters):
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return client.get(f"/api/mdm/devices/commands/?enrolled_device={device_id}&{query}", headers=admin).json


def test_enrollment_then_inventory(client, admin, enrolled, mdm_settings):
    sim, device_id = enrolled("mac", filevault=True, supervised=True)
    assert sim.mdm_payload["SignMessage"] is (not mdm_settings["mtls_proxy"])
    device = client.get(f"/api/mdm/devices/{device_id}/", headers=admin).json
    assert device["serial_number"] == sim.facts.serial and device["platform"] == "macOS"
    assert device["cert_not_valid_after"] is not None
    pending = commands(client, admin, device_id, status="pending")
    assert sorted(c["name"] for c in pending) == ["DeviceInformation", "SecurityInfo"]
    handled = sim.connect()
    assert handled == [("DeviceInformation", "Acknowledged"), ("SecurityInfo", "Acknowledged")], sim.errors
    device = client.get(f"/api/mdm/devices/{device_id}/", headers=admin).json
    assert device["os_version"] == sim.facts.os_version and device["build_version"] == sim.facts.build_version
    assert device["apple_silicon"] is True and device["supervised"] is True
    assert device["filevault_enabled"] is True and device["name"] == sim.facts.device_name
    assert device["last_seen_at"] is not None
    assert commands(client, admin, device_id, status="pending") == []
    assert sim.connect() == []  # nothing left: an empty answer ends the session


@pytest.mark.parametrize("flavour, body", [
    ("mac", {"pin": "123456", "message": "Found me? Call", "phone_number": "+4900000"}),
    ("iphone", {"message": "Lost iPhone"}),
])
def test_lock_reaches_the_device(client, admin, enrolled, flavour, body):
    sim, device_id = enrolled(flavour)
    sim.connect()
    cmd = client.post(f"/api/mdm/devices/{device_id}/lock/", headers=admin, json=body).json
    assert sim.connect() == [("DeviceLock", "Acknowledged")]
    assert ("DeviceLock", body.get("pin")) in sim.actions
    done = client.get(f"/api/mdm/devices/commands/{cmd['uuid']}/", headers=admin).json
    assert done["status"] == "Acknowledged" and done["time"] and done["result_time"]


@pytest.mark.parametrize("flavour, body", [
    ("iphone", {"disallow_proximity_setup": True, "preserve_data_plan": True}),
    ("intel_t1", {"pin": "654321"}),
    ("mac", {}),
])
def test_erase_reaches_the_device(client, admin, enrolled, flavour, body):
    sim, device_id = enrolled(flavour)
    sim.connect()  # inventory: the server learns whether a PIN is needed
    resp = client.post(f"/api/mdm/devices/{device_id}/erase/", headers=admin, json=body)
    assert resp.status_code == 201, resp.json
    assert sim.connect() == [("EraseDevice", "Acknowledged")]
    assert ("EraseDevice", body.get("pin")) in sim.actions


def test_notnow_is_kept_and_resent_in_a_later_session(client, admin, enrolled):
    sim, device_id = enrolled("iphone")
    sim.locked = True
    handled = sim.connect()
    assert handled == [("DeviceInformation", "NotNow"), ("SecurityInfo", "NotNow")]
    assert not sim.errors  # the simulator flags a NotNow'd command resent in the same session
    statuses = {c["name"]: c["status"] for c in commands(client, admin, device_id)}
    assert statuses == {"DeviceInformation": "NotNow", "SecurityInfo": "NotNow"}
    sim.locked = False
    assert sim.connect() == [("DeviceInformation", "Acknowledged"), ("SecurityInfo", "Acknowledged")]


def test_error_is_final(client, admin, enrolled):
    sim, device_id = enrolled("iphone", fail_commands={"DeviceLock"})
    sim.connect()
    cmd = client.post(f"/api/mdm/devices/{device_id}/lock/", headers=admin, json={}).json
    assert sim.connect() == [("DeviceLock", "Error")]
    done = client.get(f"/api/mdm/devices/commands/{cmd['uuid']}/", headers=admin).json
    assert done["status"] == "Error" and done["error_chain"][0]["ErrorCode"]
    assert sim.connect() == []  # never delivered again


def test_a_certificate_cannot_speak_for_another_device(client, admin, enrolled, http):
    a, a_id = enrolled("mac")
    b, b_id = enrolled("mac")
    b.facts.udid = a.facts.udid  # B's certificate, A's UDID
    assert b.connect() == []
    assert any("HTTP 400" in e and "does not match" in e for e in b.errors), b.errors
    before = client.get(f"/api/mdm/devices/{a_id}/", headers=admin).json
    assert b.checkin("Authenticate").status_code == 400  # cannot re-bind A either
    assert client.get(f"/api/mdm/devices/{a_id}/", headers=admin).json == before


def test_blocked_device_is_released_and_cannot_reenroll(client, admin, enrolled, enrollment, http):
    sim, device_id = enrolled("mac")
    client.post(f"/api/mdm/devices/{device_id}/block/", headers=admin)
    sim.connect()
    assert sim.unenrolled_by_server and not sim.enrolled
    assert not sim.enroll(enrollment["enroll_url"], http)
    assert sim.errors[-1] == "enrollment profile: HTTP 403"
    client.post(f"/api/mdm/devices/{device_id}/unblock/", headers=admin)
    assert sim.enroll(enrollment["enroll_url"], http), sim.errors
    devices = client.get(f"/api/mdm/devices/?serial_number={sim.facts.serial}", headers=admin).json
    assert [d["id"] for d in devices] == [device_id]  # re-enrollment keeps the row


def test_reenrollment_clears_stale_tokens(client, admin, enrolled, enrollment, http, runtime):
    from espalier.models import EnrolledDevice

    sim, device_id = enrolled("mac")
    assert sim.set_bootstrap_token(b"bootstrap")
    assert client.get(f"/api/mdm/devices/{device_id}/", headers=admin).json["bootstrap_token_escrowed"] is True
    assert sim.get_bootstrap_token() == b"bootstrap"
    old_token = sim.push_token_hex
    assert client.post(f"/api/mdm/devices/{device_id}/release/", headers=admin).status_code == 200
    assert sim.enroll(enrollment["enroll_url"], http), sim.errors
    with runtime.db.session() as s:
        row = s.get(EnrolledDevice, device_id)
    assert row.push_token == sim.push_token_hex != old_token
    assert row.bootstrap_token is None
    assert "bootstrap" not in str(row.bootstrap_token)


def test_checkout(client, admin, enrolled):
    sim, device_id = enrolled("mac")
    assert sim.checkout()
    assert client.get(f"/api/mdm/devices/{device_id}/", headers=admin).json["checkout_at"] is not None


def test_renewed_identity_replaces_the_old_one(client, admin, enrolled):
    sim, device_id = enrolled("mac")
    old = sim.identity_cert
    assert sim.renew_identity(), sim.errors
    assert sim.identity_cert.serial_number != old.serial_number
    assert sim.connect(), sim.errors  # the renewal we issued is accepted in place of the old cert


def test_scep_challenge_is_single_use(enrollment, http):
    from espalier.sim.device import SimulatedDevice

    first = SimulatedDevice.flavour("mac")
    assert first.enroll(enrollment["enroll_url"], http)
    replay = SimulatedDevice.flavour("mac")
    replay.client = http
    replay.mdm_payload, replay.scep_payload = first.mdm_payload, first.scep_payload
    from cryptography.hazmat.primitives.asymmetric import rsa
    from espalier.sim.device import EnrollmentError, scep_subject

    key = rsa.generate_private_key(65537, 2048)
    with pytest.raises(EnrollmentError, match="failInfo|FAILURE|badRequest|2"):
        replay.scep_request(key, scep_subject(first.scep_payload["Subject"], replay.facts),
                     first.scep_payload["Challenge"], renew=False)


@pytest.mark.parametrize("cipher", ["aes128", "des3", "des"])
@pytest.mark.parametrize("digest", ["sha1", "sha256"])
def test_scep_accepts_old_ciphers_and_digests(enrollment, http, cipher, digest):
    from espalier.sim.device import SimulatedDevice

    sim = SimulatedDevice.flavour("mac", scep_cipher=cipher, signature_digest=digest)
    assert sim.enroll(enrollment["enroll_url"], http), sim.errors
    assert sim.connect(), sim.errors


def test_device_awaiting_configuration_is_released(client, admin, enrolled):
    sim, device_id = enrolled("mac", dep=True)
    assert sim.awaiting_configuration
    handled = sim.connect()
    assert handled[-1] == ("DeviceConfigured", "Acknowledged")
    assert not sim.awaiting_configuration
    assert client.get(f"/api/mdm/devices/{device_id}/", headers=admin).json["awaiting_configuration"] is False
