"""The whole loop against the real server: API command -> APNs push (fake) -> device connects."""
from __future__ import annotations

import plistlib
import time
import uuid

import httpx
import pytest
from cryptography import x509

from espalier.sim.answers import answer
from espalier.sim.device import SimulatedDevice
from espalier.sim.fleet import Fleet
from e2e import apns_settings
from fakes.push_certs import make_push_cert

BASE = "https://mdm.example.test"


@pytest.fixture
def mdm_settings(fake_apns):
    return apns_settings(fake_apns)


@pytest.fixture
def enrollment(client, admin, push_ca) -> dict:
    pc = make_push_cert(push_ca)
    push_certificate = client.post("/api/mdm/push_certificates/", headers=admin, json={
        "name": "Main", "certificate": pc.cert_pem.decode(), "private_key": pc.key_pem.decode()}).json
    return client.post("/api/mdm/ota_enrollments/", headers=admin, json={
        "name": "Pushed", "push_certificate": push_certificate["id"], "reusable": True,
        "attestation": "none"}).json


@pytest.fixture
def http(app):
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url=BASE) as client:
        yield client


def _device_id(client, admin, device: SimulatedDevice) -> int:
    (row,) = client.get(f"/api/mdm/devices/?udid={device.facts.udid}", headers=admin).json
    return row["id"]


def _eventually(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_pushes_wake_devices_at_enrollment_and_for_a_queued_lock(client, admin, http, enrollment, fake_apns,
                                                                runtime):
    # The lock comes within seconds of the enrollment push: it is pushed once the per-device
    # rate limit (tasks.push.MIN_INTERVAL) has passed, not left for the re-notify sweep.
    runtime.queue.push_enabled = True
    with Fleet(BASE, enrollment["secret"], 3, "iphone", client=http, workers=3) as fleet:
        fake_apns.on_push = fleet.push_callback
        assert fleet.enroll_all() == 3, fleet.summary()["errors"]
        _eventually(lambda: fleet.connects == 3)  # the server pushes after TokenUpdate: the inventory
        assert fleet.request_types == {"DeviceInformation": 3, "SecurityInfo": 3}
        target = fleet.devices[2]
        resp = client.post(f"/api/mdm/devices/{_device_id(client, admin, target)}/lock/", headers=admin,
                           json={"message": "Please return"})
        assert resp.status_code == 201, resp.json
        _eventually(lambda: any(c.request_type == "DeviceLock" for c in target.commands))
        assert fleet.wait_for_pushes(10)
    push = fake_apns.pushes[-1]
    assert push.token_hex == target.push_token_hex and push.body == f'{{"mdm":"{target.push_magic}"}}'.encode()
    assert [(c.request_type, c.status) for c in target.commands][-1] == ("DeviceLock", "Acknowledged")
    assert all(not d.errors for d in fleet.devices) and fleet.unknown_pushes == 0 and fleet.connects == 4


def test_a_prk_sealed_to_any_certificate_but_the_devices_escrow_certificate_is_not_stored(client, admin, http,
                                                                                        enrollment):
    """PRKs are escrowed to a per-device key (tests/server/security/): not to the device CA's."""
    device = SimulatedDevice.mac(filevault=True)
    assert device.enroll(enrollment["enroll_url"], http), device.errors
    ca_der = http.get("/scep/espalier", params={"operation": "GetCACert"}).content
    cert_uuid = str(uuid.uuid4())
    escrow = {"PayloadType": "Configuration", "PayloadVersion": 1, "PayloadIdentifier": "com.example.fv",
              "PayloadUUID": str(uuid.uuid4()), "PayloadContent": [
                  {"PayloadType": "com.apple.security.pkcs1", "PayloadUUID": cert_uuid, "PayloadVersion": 1,
                   "PayloadIdentifier": "com.example.fv.cert", "PayloadContent": ca_der},
                  {"PayloadType": "com.apple.security.FDERecoveryKeyEscrow", "PayloadVersion": 1,
                   "PayloadUUID": str(uuid.uuid4()), "PayloadIdentifier": "com.example.fv.escrow",
                   "Location": "Espalier", "EncryptCertPayloadUUID": cert_uuid}]}
    x509.load_der_x509_certificate(ca_der)
    assert answer(device, {"RequestType": "InstallProfile", "Payload": plistlib.dumps(escrow)})[0] == "Acknowledged"
    assert ("SecurityInfo", "Acknowledged") in device.connect()
    resp = client.get(f"/api/mdm/devices/{_device_id(client, admin, device)}/filevault_prk/", headers=admin)
    assert resp.status_code == 200, resp.json
    assert resp.json["filevault_prk"] is None
