"""Device identity that cannot be taken over: claims on an enrolled UDID need proof."""
from __future__ import annotations

import copy
import plistlib

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import hashes

from espalier.models import EnrolledDevice
from espalier.sim.device import SimulatedDevice

from e2e import issue_identity

MODES = ["mtls-proxy", "mdm-signature"]


@pytest.fixture(params=MODES)
def mdm_settings(request, apple_ca):
    return {"mtls_proxy": request.param == "mtls-proxy", "apple_device_ca_fullchain": apple_ca.pem}


def _impostor(sim: SimulatedDevice) -> SimulatedDevice:
    """A second device that claims the first one's UDID and serial (both are visible to API readers)."""
    return SimulatedDevice(copy.deepcopy(sim.facts))


def _bound(runtime, device_id) -> str:
    with runtime.db.session() as s:
        return s.get(EnrolledDevice, device_id).cert_fingerprint


def _lock(client, admin, device_id):
    resp = client.post(f"/api/mdm/devices/{device_id}/lock/", headers=admin, json={"pin": "123456"})
    assert resp.status_code == 201, resp.json


def test_a_second_device_cannot_take_over_an_enrolled_udid(client, admin, enrolled, enrollment, http, runtime):
    sim, device_id = enrolled("mac")
    before = _bound(runtime, device_id)
    impostor = SimulatedDevice(copy.deepcopy(sim.facts), keep_identity_on_refusal=True)
    assert not impostor.enroll(enrollment["enroll_url"], http)
    assert impostor.errors[-1].startswith("Authenticate: HTTP 400 this device is enrolled with another certificate")
    assert _bound(runtime, device_id) == before
    _lock(client, admin, device_id)
    assert ("DeviceLock", "Acknowledged") in sim.connect()  # the real device keeps working
    assert impostor.connect() == [] and "HTTP 400" in impostor.errors[-1]  # the impostor gets nothing


def test_after_checkout_the_udid_can_enroll_again(client, admin, enrolled, enrollment, http, runtime):
    sim, device_id = enrolled("mac")
    first = _bound(runtime, device_id)
    assert sim.checkout()
    newcomer = _impostor(sim)
    assert newcomer.enroll(enrollment["enroll_url"], http), newcomer.errors
    assert _bound(runtime, device_id) == newcomer.identity_cert.fingerprint(hashes.SHA256()).hex() != first


@pytest.mark.parametrize("how", ["api", "cli", "block", "erase"])
def test_a_released_device_can_be_claimed_by_the_next_enrollment(client, admin, enrolled, enrollment, http, runtime,
                                                                 settings_file, how):
    sim, device_id = enrolled("mac")
    if how == "api":
        resp = client.post(f"/api/mdm/devices/{device_id}/release/", headers=admin)
        assert resp.status_code == 200 and resp.json["id"] == device_id
    elif how == "cli":
        from espalier.cli import main

        result = CliRunner().invoke(main, ["--settings", settings_file, "device", "release", sim.facts.serial])
        assert result.exit_code == 0, result.output
        assert "released" in result.output
    elif how == "block":
        client.post(f"/api/mdm/devices/{device_id}/block/", headers=admin)
        client.post(f"/api/mdm/devices/{device_id}/unblock/", headers=admin)
    else:
        sim.connect()  # the inventory tells the server it is an Apple silicon Mac (no PIN to erase)
        assert client.post(f"/api/mdm/devices/{device_id}/erase/", headers=admin, json={}).status_code == 201
        assert ("EraseDevice", "Acknowledged") in sim.connect(), sim.errors
    newcomer = _impostor(sim)
    assert newcomer.enroll(enrollment["enroll_url"], http), newcomer.errors
    _lock(client, admin, device_id)
    assert not sim.connect()  # the old certificate no longer speaks for the device
    assert ("DeviceLock", "Acknowledged") in newcomer.connect()


@pytest.fixture
def attested_enrollment(client, admin, push_certificate):
    resp = client.post("/api/mdm/ota_enrollments/", headers=admin,
                       json={"name": "Attested", "push_certificate": push_certificate["id"]})
    assert resp.status_code == 201 and resp.json["attestation"] == "apple"
    return resp.json


def _attested_device(apple_ca, flavour="mac", **facts) -> SimulatedDevice:
    sim = SimulatedDevice.flavour(flavour)
    for key, value in facts.items():
        setattr(sim.facts, key, value)
    sim.apple_identity = apple_ca.identity(sim.facts.udid)
    return sim


@pytest.mark.parametrize("flavour", ["mac", "iphone"])
def test_a_device_enrolls_through_the_profile_service(client, admin, http, attested_enrollment, apple_ca, runtime,
                                                      flavour):
    sim = _attested_device(apple_ca, flavour)
    assert sim.enroll(attested_enrollment["enroll_url"], http), sim.errors
    (row,) = client.get(f"/api/mdm/devices/?udid={sim.facts.udid}", headers=admin).json
    assert row["serial_number"] == sim.facts.serial
    _lock(client, admin, row["id"]) if flavour == "mac" else None
    assert sim.connect()


def test_without_an_apple_identity_an_attested_enrollment_is_refused(http, attested_enrollment):
    sim = SimulatedDevice.mac()
    assert not sim.enroll(attested_enrollment["enroll_url"], http)
    assert "needs device attestation" in sim.errors[-1]


def test_an_attested_device_reclaims_its_udid_without_checkout(client, admin, http, enrolled, attested_enrollment,
                                                              apple_ca, runtime):
    """Wiped without a CheckOut: proof of identity takes the UDID back; the old certificate is out."""
    old, device_id = enrolled("mac")
    back = _attested_device(apple_ca, udid=old.facts.udid, serial=old.facts.serial)
    assert back.enroll(attested_enrollment["enroll_url"], http), back.errors
    assert _bound(runtime, device_id) == back.identity_cert.fingerprint(hashes.SHA256()).hex()
    assert not old.connect()


def test_an_attested_certificate_speaks_for_its_udid_only(client, admin, http, attested_enrollment, apple_ca):
    sim = _attested_device(apple_ca)
    assert sim.enroll(attested_enrollment["enroll_url"], http), sim.errors
    other = _attested_device(apple_ca, serial=sim.facts.serial)
    # The first device's certificate, presented for another UDID.
    other.identity_cert, other.identity_key = sim.identity_cert, sim.identity_key
    other.mdm_payload, other.scep_payload = sim.mdm_payload, sim.scep_payload
    other.client = http
    response = other.checkin("Authenticate")
    assert response.status_code == 400 and b"issued for another device" in response.content


def test_a_bound_certificate_cannot_authenticate_for_another_udid(client, admin, enrolled, http, runtime):
    sim, device_id = enrolled("mac")  # no attestation: only its binding ties the certificate to its UDID
    before = _bound(runtime, device_id)
    other = SimulatedDevice.flavour("mac")
    response = sim.checkin("Authenticate", UDID=other.facts.udid, SerialNumber=other.facts.serial)
    assert response.status_code == 400 and b"this certificate belongs to another device" in response.content
    assert client.get(f"/api/mdm/devices/?udid={other.facts.udid}", headers=admin).json == []
    assert _bound(runtime, device_id) == before
    assert ("DeviceInformation", "Acknowledged") in sim.connect()  # the device it is bound to keeps working


@pytest.mark.parametrize("by", ["serial_number", "udid"])
def test_authenticate_refuses_a_device_blocked_after_its_certificate_was_issued(client, admin, enrollment, http, by):
    sim = SimulatedDevice.flavour("mac", keep_identity_on_refusal=True)
    sim.client = http
    assert sim.download_profile(enrollment["enroll_url"]) and sim.request_identity(), sim.errors
    value = sim.facts.serial if by == "serial_number" else sim.facts.udid
    resp = client.post("/api/mdm/blocked_devices/", headers=admin, json={by: value.lower()})
    assert resp.status_code == 201, resp.json
    # None: the simulator read a 403 com.apple.unrecognized.device, and removed its profile
    assert sim.checkin("Authenticate") is None and sim.unenrolled_by_server
    assert client.get(f"/api/mdm/devices/?udid={sim.facts.udid}", headers=admin).json == []


def _phase_two(client, enrollment, body: bytes):
    return client.post(f"/public/enroll/{enrollment['secret']}/attest/?unsigned=1", data=body,
                       headers={"Content-Type": "application/pkcs7-signature"})


def _service_payload(client, enrollment) -> dict:
    return plistlib.loads(client.get(f"/public/enroll/{enrollment['secret']}/?unsigned=1").data)


def test_phase_two_refuses_untrusted_reused_tampered_and_blocked(client, admin, attested_enrollment, apple_ca,
                                                                 make_device):
    from espalier.pki.ca import create_ca
    from espalier.sim.attestation import signed_attributes
    from espalier.sim.facts import CATALOGUE, DeviceFacts

    facts = DeviceFacts(*CATALOGUE["iphone"][:9])
    payload = _service_payload(client, attested_enrollment)
    # Signed by a CA of our own making, not Apple's.
    rogue = create_ca("Not Apple")
    resp = _phase_two(client, attested_enrollment, signed_attributes(facts, payload, issue_identity(rogue, facts.udid)))
    assert resp.status_code == 400 and b"not signed by an Apple device identity" in resp.data
    # Tampered after signing.
    good = signed_attributes(facts, payload, apple_ca.identity(facts.udid))
    tampered = good.replace(facts.udid.encode(), b"0" * len(facts.udid))
    assert _phase_two(client, attested_enrollment, tampered).status_code == 400
    # The real one, once; then the challenge is spent.
    first = _phase_two(client, attested_enrollment, good)
    assert first.status_code == 200
    profile = plistlib.loads(first.data)
    assert {p["PayloadType"] for p in profile["PayloadContent"]} == {"com.apple.security.scep", "com.apple.mdm"}
    again = _phase_two(client, attested_enrollment, good)
    assert again.status_code == 403 and b"already used" in again.data
    # A blocked serial gets nothing.
    make_device(serial_number=facts.serial, blocked_at=__import__("datetime").datetime(2024, 1, 1))
    fresh = signed_attributes(facts, _service_payload(client, attested_enrollment), apple_ca.identity(facts.udid))
    assert _phase_two(client, attested_enrollment, fresh).status_code == 403
    assert _phase_two(client, attested_enrollment, b"garbage").status_code == 400


def test_phase_two_is_only_for_attested_enrollments(client, enrollment):
    resp = client.post(f"/public/enroll/{enrollment['secret']}/attest/", data=b"x")
    assert resp.status_code == 404
