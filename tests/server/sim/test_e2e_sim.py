"""Simulated devices against the real server (Flask app over httpx.WSGITransport, PostgreSQL).

Pushes are recorded, not sent (the shared TestQueue); test_e2e_sim_push.py sends them.
"""
from __future__ import annotations

import httpx
import pytest

from espalier.sim.device import SimulatedDevice
from espalier.sim.fleet import Fleet
from fakes.push_certs import make_ca, make_push_cert

BASE = "https://mdm.example.test"


@pytest.fixture
def mdm_settings(request) -> dict:
    return getattr(request, "param", {})


@pytest.fixture
def enrollment(client, admin) -> dict:
    pc = make_push_cert(make_ca())
    push_certificate = client.post("/api/mdm/push_certificates/", headers=admin, json={
        "name": "Main", "certificate": pc.cert_pem.decode(), "private_key": pc.key_pem.decode()}).json
    resp = client.post("/api/mdm/ota_enrollments/", headers=admin, json={
        "name": "Simulated", "display_name": "Simulated devices", "push_certificate": push_certificate["id"],
        "blueprint": None, "identity_source": "builtin", "reusable": True, "attestation": "none"})
    assert resp.status_code == 201, resp.json
    return resp.json


@pytest.fixture
def http(app):
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url=BASE) as client:
        yield client


def _device_id(client, admin, device: SimulatedDevice) -> int:
    (row,) = client.get(f"/api/mdm/devices/?udid={device.facts.udid}", headers=admin).json
    return row["id"]


@pytest.mark.parametrize("mdm_settings", [{"mtls_proxy": True}, {"mtls_proxy": False}], indirect=True,
                         ids=["mtls", "signature"])
@pytest.mark.parametrize("factory", [SimulatedDevice.mac, SimulatedDevice.iphone,
                                     lambda: SimulatedDevice.intel_mac(t2=False, signature_digest="sha1",
                                                                       scep_cipher="des3")],
                         ids=["mac", "iphone", "t1-sha1-des3"])
def test_device_enrolls_and_answers_the_inventory(http, enrollment, mdm_settings, factory):
    device = factory()
    assert device.enroll(enrollment["enroll_url"], http), device.errors
    assert device.mdm_payload["SignMessage"] is not mdm_settings["mtls_proxy"]
    handled = device.connect()
    assert ("DeviceInformation", "Acknowledged") in handled and ("SecurityInfo", "Acknowledged") in handled
    assert device.errors == []
    assert device.connect() == []


def test_fleet_enrolls_and_connects_against_the_server(http, enrollment):
    with Fleet(BASE, enrollment["secret"], 6, "mixed", client=http, workers=3) as fleet:
        assert fleet.enroll_all() == 6, fleet.summary()["errors"]
        fleet.connect_all(rounds=2)
        summary = fleet.summary()
    assert summary["errors"] == {} and summary["commands"].get("Error", 0) == 0
    assert summary["request_types"]["DeviceInformation"] == 6


def test_queued_lock_reaches_the_device(client, admin, http, enrollment):
    device = SimulatedDevice.iphone()
    assert device.enroll(enrollment["enroll_url"], http), device.errors
    device.connect()
    resp = client.post(f"/api/mdm/devices/{_device_id(client, admin, device)}/lock/", headers=admin, json={})
    assert resp.status_code == 201, resp.json
    assert device.connect() == [("DeviceLock", "Acknowledged")]
    assert device.actions == [("DeviceLock", None)]


def test_locked_device_notnow_is_offered_again_after_unlock(http, enrollment):
    device = SimulatedDevice.ipad(locked=True)
    assert device.enroll(enrollment["enroll_url"], http), device.errors
    assert {status for _, status in device.connect()} == {"NotNow"}
    device.locked = False
    assert {status for _, status in device.connect()} == {"Acknowledged"}
    assert device.errors == []


def test_blocked_device_is_unenrolled_and_cannot_enroll_again(client, admin, http, enrollment):
    device = SimulatedDevice.mac()
    assert device.enroll(enrollment["enroll_url"], http), device.errors
    device.connect()
    resp = client.post(f"/api/mdm/devices/{_device_id(client, admin, device)}/block/", headers=admin, json={})
    assert resp.status_code == 200, resp.json
    device.connect()
    assert device.unenrolled_by_server and not device.enrolled
    assert device.enroll(enrollment["enroll_url"], http) is False
    assert device.errors[-1] == "enrollment profile: HTTP 403"


def test_renewed_identity_keeps_working(http, enrollment):
    device = SimulatedDevice.mac()
    assert device.enroll(enrollment["enroll_url"], http), device.errors
    device.connect()
    assert device.renew_identity(), device.errors
    device.connect()
    assert device.enrolled and device.errors == []


def test_bootstrap_token_escrow_and_checkout(http, enrollment):
    device = SimulatedDevice.mac(dep=False)
    assert device.enroll(enrollment["enroll_url"], http), device.errors
    assert device.set_bootstrap_token(b"\x07" * 48)
    assert device.get_bootstrap_token() == b"\x07" * 48
    assert device.checkout()
    assert device.errors == []
