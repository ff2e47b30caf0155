"""OTA enrollments: CRUD, the enrollment profile and its payloads, one-time links, blocked devices."""
from __future__ import annotations

import plistlib

import pytest

from fakes.push_certs import make_ca, make_push_cert


@pytest.fixture
def push_certificate(client, admin):
    pc = make_push_cert(make_ca())
    resp = client.post("/api/mdm/push_certificates/", headers=admin, json={
        "name": "Main", "certificate": pc.cert_pem.decode(), "private_key": pc.key_pem.decode()})
    return resp.json


def create(client, admin, push_certificate, **extra):
    """An enrollment serving the plain profile (attestation none) unless ``extra`` says otherwise."""
    data = {"name": "Staff Macs", "push_certificate": push_certificate["id"], "attestation": "none", **extra}
    return client.post("/api/mdm/ota_enrollments/", headers=admin, json=data)


def test_crud(client, admin, push_certificate):
    resp = create(client, admin, push_certificate, display_name="Staff")
    assert resp.status_code == 201, resp.json
    e = resp.json
    assert e["identity_source"] == "builtin" and e["reusable"] is True and len(e["secret"]) >= 24
    assert e["attestation"] == "none"
    assert e["enroll_url"] == f"https://mdm.example.test/public/enroll/{e['secret']}/"
    assert client.get("/api/mdm/ota_enrollments/", headers=admin).json == [e]
    resp = client.put(f"/api/mdm/ota_enrollments/{e['id']}/", headers=admin, json={"display_name": "Everyone"})
    assert resp.json["display_name"] == "Everyone" and resp.json["secret"] == e["secret"]
    assert create(client, admin, push_certificate).json == {"name": ["OTA enrollment with this name already exists."]}
    assert client.delete(f"/api/mdm/ota_enrollments/{e['id']}/", headers=admin).status_code == 204
    assert client.get(f"/api/mdm/ota_enrollments/{e['id']}/", headers=admin).status_code == 404


def test_bad_enrollment_input_names_fields(client, admin, push_certificate):
    resp = client.post("/api/mdm/ota_enrollments/", headers=admin, json={
        "name": "", "push_certificate": 9999, "identity_source": "other", "quota": 0, "colour": 1})
    assert resp.status_code == 400
    assert resp.json == {"name": ["This field may not be blank."],
                         "identity_source": ['"other" is not a valid choice.'],
                         "quota": ["Ensure this value is greater than or equal to 1."]}
    resp = client.post("/api/mdm/ota_enrollments/", headers=admin, json={"name": "x", "push_certificate": 9999})
    assert resp.json == {"push_certificate": ['Invalid pk "9999" - object does not exist.']}
    resp = client.post("/api/mdm/ota_enrollments/", headers=admin, json={})
    assert resp.json == {"name": ["This field is required."], "push_certificate": ["This field is required."]}
    resp = create(client, admin, push_certificate, attestation="maybe")
    assert resp.status_code == 400 and resp.json == {"attestation": ['"maybe" is not a valid choice.']}
    resp = create(client, admin, push_certificate, identity_source="external")
    assert resp.status_code == 400 and "scep_url" in resp.json


def test_profile_payloads(client, admin, push_certificate, runtime):
    e = create(client, admin, push_certificate).json
    resp = client.get(f"/public/enroll/{e['secret']}/?unsigned=1")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/x-apple-aspen-config"
    profile = plistlib.loads(resp.data)
    scep, mdm = profile["PayloadContent"]
    assert scep["PayloadType"] == "com.apple.security.scep"
    assert mdm["PayloadType"] == "com.apple.mdm"
    assert mdm["IdentityCertificateUUID"] == scep["PayloadUUID"]
    assert mdm["Topic"] == push_certificate["topic"]
    assert mdm["ServerURL"] == "https://mdm.example.test/mdm/connect"
    assert mdm["CheckInURL"] == "https://mdm.example.test/mdm/checkin"
    assert mdm["AccessRights"] == 8191 and mdm["CheckOutWhenRemoved"] is True
    assert mdm["SignMessage"] is False  # mtls_proxy defaults to true
    assert set(mdm["ServerCapabilities"]) == {"com.apple.mdm.per-user-connections", "com.apple.mdm.bootstraptoken"}
    content = scep["PayloadContent"]
    assert content["URL"] == "https://mdm.example.test/scep/espalier" and content["Keysize"] == 2048
    assert content["Key Usage"] == 5 and content["Challenge"]
    assert content["Subject"][0][0][0] == "CN" and content["Subject"][0][0][1].startswith("espalier:")
    second = plistlib.loads(client.get(f"/public/enroll/{e['secret']}/?unsigned=1").data)
    assert second["PayloadContent"][0]["PayloadContent"]["Challenge"] != content["Challenge"]


def test_profile_is_signed_by_default(client, admin, push_certificate):
    from asn1crypto import cms

    e = create(client, admin, push_certificate).json
    resp = client.get(f"/public/enroll/{e['secret']}/")
    info = cms.ContentInfo.load(resp.data)
    assert info["content_type"].native == "signed_data"
    inner = plistlib.loads(info["content"]["encap_content_info"]["content"].native)
    assert inner["PayloadType"] == "Configuration"


def test_one_time_secret_is_spent(client, admin, push_certificate):
    e = create(client, admin, push_certificate, reusable=False).json
    assert client.get(f"/public/enroll/{e['secret']}/?unsigned=1").status_code == 200
    resp = client.get(f"/public/enroll/{e['secret']}/?unsigned=1")
    assert resp.status_code == 410 and b"already used" in resp.data


def test_unknown_secret_is_404(client):
    assert client.get("/public/enroll/nope/").status_code == 404
    assert client.get("/public/enroll/" + "x" * 500 + "/").status_code == 404


def test_blocked_device_cannot_get_a_profile(client, admin, push_certificate, make_device):
    from datetime import datetime

    d = make_device(blocked_at=datetime(2024, 1, 1))
    e = create(client, admin, push_certificate).json
    for query in (f"serial_number={d.serial_number}", f"udid={d.udid}"):
        resp = client.get(f"/public/enroll/{e['secret']}/?unsigned=1&{query}")
        assert resp.status_code == 403
    assert client.get(f"/public/enroll/{e['secret']}/?unsigned=1&serial_number=OTHER").status_code == 200


@pytest.mark.parametrize("query", ["serial_number=" + "C" * 65, "udid=" + "0" * 65, "serial_number=C02%00ABC",
                                   "udid=ABC%0A", "serial_number=C02%E2%80%AEABC"])
def test_a_device_hint_that_cannot_be_a_serial_or_udid_is_a_400(client, admin, push_certificate, query):
    """The enrollment URL's serial_number and udid are stored with the session: too long, or
    with a control character (PostgreSQL refuses NUL), is the caller's error, not a 500."""
    e = create(client, admin, push_certificate).json
    resp = client.get(f"/public/enroll/{e['secret']}/?unsigned=1&{query}")
    assert resp.status_code == 400  # a NUL is refused by the guard before any view (web/guards.py)
    assert b"NUL characters" in resp.data if "%00" in query else b"at most 64 printable characters" in resp.data
    assert client.get(f"/public/enroll/{e['secret']}/?unsigned=1&serial_number=" + "C" * 64).status_code == 200


def test_external_scep_profile(client, admin, push_certificate):
    e = create(client, admin, push_certificate, identity_source="external", scep_url="https://scep.example.test/scep",
               scep_challenge="static-challenge").json
    profile = plistlib.loads(client.get(f"/public/enroll/{e['secret']}/?unsigned=1").data)
    content = profile["PayloadContent"][0]["PayloadContent"]
    assert content["URL"] == "https://scep.example.test/scep" and content["Challenge"] == "static-challenge"
    assert "scep_challenge" not in e


def test_attestation_defaults_to_apple_and_serves_the_profile_service(client, admin, push_certificate):
    data = {"name": "Attested", "push_certificate": push_certificate["id"]}
    e = client.post("/api/mdm/ota_enrollments/", headers=admin, json=data).json
    assert e["attestation"] == "apple"
    payload = plistlib.loads(client.get(f"/public/enroll/{e['secret']}/?unsigned=1").data)
    assert payload["PayloadType"] == "Profile Service"
    content = payload["PayloadContent"]
    assert content["URL"] == f"https://mdm.example.test/public/enroll/{e['secret']}/attest/"
    assert {"UDID", "SERIAL", "PRODUCT", "VERSION"} <= set(content["DeviceAttributes"]) and content["Challenge"]
    assert "com.apple.mdm" not in str(payload)  # nothing to enroll with before the device proved itself
