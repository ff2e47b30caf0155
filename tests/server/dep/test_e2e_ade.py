"""Automated Device Enrollment end to end: ABM sync, the DEP enrollment, a simulated ADE device
posting its MachineInfo, Await Configuration released after the blueprint's profile; and what the
enrollment URL refuses."""
from __future__ import annotations

import base64
import plistlib
import uuid

import httpx
import pytest
from e2e import issue_identity
from test_api_dep import setup_server
from test_dep_enrollments import create, sync

from espalier.mdm.ade import SOFTWARE_UPDATE_REQUIRED
from espalier.mdm.await_configuration import password_hash
from espalier.models import AuditEvent, DeviceCommand, EnrolledDevice
from espalier.pki.ca import create_ca
from espalier.sim.attestation import machine_info
from espalier.sim.device import SimulatedDevice
from espalier.sim.signing import signed_data


def wifi_profile() -> str:
    payload = {"PayloadType": "com.apple.wifi.managed", "PayloadIdentifier": "com.example.ade.wifi.payload",
               "PayloadUUID": str(uuid.uuid4()).upper(), "PayloadVersion": 1, "SSID_STR": "corp"}
    return base64.b64encode(plistlib.dumps({
        "PayloadType": "Configuration", "PayloadIdentifier": "com.example.ade.wifi", "PayloadVersion": 1,
        "PayloadUUID": str(uuid.uuid4()).upper(), "PayloadDisplayName": "Wi-Fi", "PayloadScope": "System",
        "PayloadContent": [payload]})).decode()


@pytest.fixture
def mdm_settings(fake, apple_ca):
    return {"abm": {"base_url": fake.base_url, "ca_file": fake.ca_file}, "apple_device_ca_fullchain": apple_ca.pem,
            "mtls_proxy": False}


@pytest.fixture
def ade(client, admin, fake, push_certificate):
    """A synced virtual server and a DEP enrollment with a macOS admin account and a blueprint profile."""
    server_id = setup_server(client, admin, fake)
    sync(client, admin, server_id)
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "ADE", "legacy_profiles_via_ddm": False}).json
    art = client.post("/api/mdm/artifacts/", headers=admin, json={
        "name": "Wi-Fi", "type": "Profile", "channel": "Device", "platforms": ["macOS", "iOS"]}).json
    client.post("/api/mdm/profiles/", headers=admin, json={
        "artifact": art["id"], "version": 1, "macos": True, "ios": True, "source": wifi_profile()})
    client.post("/api/mdm/blueprint_artifacts/", headers=admin, json={
        "blueprint": bp["id"], "artifact": art["id"], "macos": True, "ios": True})
    e = create(client, admin, server_id, push_certificate, blueprint=bp["id"], admin_full_name="IT Admin",
               admin_short_name="itadmin", admin_password_complexity=2, ios_min_version="17.1").json
    return {"server": server_id, "enrollment": e, "blueprint": bp}


def ade_device(apple_ca, flavour: str, serial: str) -> SimulatedDevice:
    sim = SimulatedDevice.flavour(flavour, dep=True)
    sim.facts.serial = serial
    sim.apple_identity = apple_ca.identity(sim.facts.udid)
    return sim


def test_an_ade_mac_enrolls_gets_its_blueprint_then_its_admin_then_device_configured(client, admin, make_token, runtime,
                                                                                   http, ade, apple_ca):
    sim = ade_device(apple_ca, "mac", "FAKE00000003")
    assert sim.enroll_ade(ade["enrollment"]["enroll_url"], http), sim.errors
    found = client.get(f"/api/mdm/devices/?udid={sim.facts.udid}", headers=admin).json
    device = found[0] if isinstance(found, list) else found["results"][0]
    assert device["dep_enrollment"] is True and device["blueprint"] == ade["blueprint"]["id"]
    assert device["awaiting_configuration"] is True
    handled = []
    for _ in range(5):
        handled += sim.connect()
    names = [name for name, _ in handled]
    assert names.index("InstallProfile") < names.index("AccountConfiguration") < names.index("DeviceConfigured")
    assert names.count("AccountConfiguration") == 1 and names.count("DeviceConfigured") == 1
    assert all(status == "Acknowledged" for _, status in handled), handled
    assert not sim.awaiting_configuration and "itadmin" in sim.admin_accounts
    with runtime.db.session() as s:
        row = s.query(EnrolledDevice).filter_by(udid=sim.facts.udid).one()
        assert row.dep_enrollment_id == ade["enrollment"]["id"] and row.enrollment_id is None
        assert row.awaiting_configuration is False and row.admin_password.startswith("v2:")
    # the escrowed password is the one the Mac's account was made with, revealed once per audited read
    resp = client.get(f"/api/mdm/devices/{device['id']}/admin_password/", headers=admin)
    assert resp.status_code == 200 and resp.json["admin_short_name"] == "itadmin"
    shadow = sim.admin_accounts["itadmin"]
    assert plistlib.loads(password_hash(resp.json["admin_password"], shadow["salt"], shadow["iterations"])) == {
        "SALTED-SHA512-PBKDF2": shadow}
    with runtime.db.session() as s:
        assert s.query(AuditEvent).filter_by(action="admin_password_viewed").count() == 1
    operator = make_token(role="operator")
    assert client.get(f"/api/mdm/devices/{device['id']}/admin_password/", headers=operator).status_code == 403
    # later connects queue nothing more
    assert sim.connect() == []


def test_an_ade_iphone_gets_no_account_configuration(client, admin, runtime, http, ade, apple_ca):
    sim = ade_device(apple_ca, "iphone", "FAKE00000004")
    sim.facts.os_version = "17.4"
    assert sim.enroll_ade(ade["enrollment"]["enroll_url"], http), sim.errors
    names = [name for _ in range(5) for name, _ in sim.connect()]
    assert "AccountConfiguration" not in names and names.count("DeviceConfigured") == 1
    with runtime.db.session() as s:
        assert s.query(DeviceCommand).filter_by(name="AccountConfiguration").count() == 0


def test_an_old_os_is_told_to_update_first(http, ade, apple_ca, runtime):
    sim = ade_device(apple_ca, "iphone", "FAKE00000005")
    sim.facts.os_version = "17.0.3"
    assert not sim.enroll_ade(ade["enrollment"]["enroll_url"], http)
    assert sim.update_required == {"code": SOFTWARE_UPDATE_REQUIRED, "details": {"OSVersion": "17.1"}}
    with runtime.db.session() as s:
        assert s.query(EnrolledDevice).filter_by(udid=sim.facts.udid).count() == 0


def test_what_the_enrollment_url_refuses(client, admin, http, ade, apple_ca, runtime):
    url = ade["enrollment"]["enroll_url"]
    good = ade_device(apple_ca, "mac", "FAKE00000006")
    info = machine_info(good.facts, good.apple_identity)

    def post(body: bytes, target: str = url) -> httpx.Response:
        return http.post(target, content=body, headers={"Content-Type": "application/pkcs7-signature"})

    assert post(b"").status_code == 400
    assert post(b"\x30\x82garbage").status_code == 400
    assert post(b"x" * (1024 * 1024)).status_code == 400
    unsigned = plistlib.dumps({"UDID": good.facts.udid, "SERIAL": good.facts.serial})
    assert post(unsigned).status_code == 400
    rogue = issue_identity(create_ca("Not Apple", "Rogue"), good.facts.udid)
    forged = signed_data(plistlib.dumps({"UDID": good.facts.udid, "SERIAL": good.facts.serial,
                                         "PRODUCT": "Mac14,2"}), *rogue)
    assert post(forged).status_code == 400
    no_serial = signed_data(plistlib.dumps({"UDID": good.facts.udid}), *good.apple_identity)
    assert post(no_serial).status_code == 400
    assert post(info, url.replace(ade["enrollment"]["secret"], "not-the-secret")).status_code == 400
    stranger = ade_device(apple_ca, "mac", "NOT-IN-ABM-1")
    assert post(machine_info(stranger.facts, stranger.apple_identity)).status_code == 400
    blocked = client.post("/api/mdm/blocked_devices/", headers=admin, json={"serial_number": "FAKE00000006"})
    assert blocked.status_code == 201, blocked.json
    assert post(info).status_code == 400
    with runtime.db.session() as s:
        assert s.query(EnrolledDevice).count() == 0
    # the same MachineInfo once unblocked: a profile
    client.delete(f"/api/mdm/blocked_devices/{blocked.json['id']}/", headers=admin)
    ok = post(info)
    assert ok.status_code == 200 and ok.headers["content-type"] == "application/x-apple-aspen-config"


def test_a_wiped_mac_enrolls_again_and_its_old_certificate_is_refused(client, admin, http, ade, apple_ca):
    """MachineInfo is the proof that lets a new certificate take over an enrolled UDID."""
    before = ade_device(apple_ca, "mac", "FAKE00000007")
    assert before.enroll_ade(ade["enrollment"]["enroll_url"], http), before.errors
    after = ade_device(apple_ca, "mac", "FAKE00000007")
    after.facts.udid = before.facts.udid
    after.apple_identity = before.apple_identity
    assert after.enroll_ade(ade["enrollment"]["enroll_url"], http), after.errors
    assert after.connect(), after.errors
    before.errors.clear()
    assert before.connect() == [] and before.errors
