"""An external SCEP CA (the seed's setup): its device certificates are accepted via scep_ca_fullchain."""
from __future__ import annotations

import os
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from espalier.pki import ca as ca_lib
from espalier.sim import profiles
from espalier.sim.device import SimulatedDevice, scep_subject


EXTERNAL = ca_lib.create_ca("Corporate SCEP CA", "Example Corp")
INTRUDER = ca_lib.create_ca("Untrusted CA")


@pytest.fixture
def mdm_settings():
    pem = EXTERNAL[0].public_bytes(serialization.Encoding.PEM).decode()
    return {"mtls_proxy": False, "scep_ca_fullchain": pem}


@pytest.fixture
def external_enrollment(client, admin, push_certificate):
    resp = client.post("/api/mdm/ota_enrollments/", headers=admin, json={
        "name": "Corporate", "push_certificate": push_certificate["id"], "identity_source": "external",
        "scep_url": "https://scep.corp.example/scep", "scep_challenge": "corp-challenge", "attestation": "none"})
    assert resp.status_code == 201, resp.json
    return resp.json


def enroll_with(issuer, http, enroll_url):
    """Download the profile, then get the identity from `issuer` as the external SCEP server would."""
    sim = SimulatedDevice.flavour("mac")
    sim.client = http
    profile = http.get(enroll_url).content
    sim.accept_enrollment_profile(*profiles.read_profile(profile))
    assert sim.scep_payload["URL"] == "https://scep.corp.example/scep"
    assert sim.scep_payload["Challenge"] == "corp-challenge"
    key = rsa.generate_private_key(65537, 2048)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(scep_subject(sim.scep_payload["Subject"], sim.facts)).sign(key, hashes.SHA256()))
    sim.identity_cert = ca_lib.issue_certificate(issuer[0], issuer[1], csr)
    sim.identity_key = key
    sim.push_token, sim.push_magic = os.urandom(32), str(uuid.uuid4()).upper()
    return sim


def test_external_ca_certificate_enrolls_and_gets_commands(client, admin, http, external_enrollment):
    sim = enroll_with(EXTERNAL, http, external_enrollment["enroll_url"])
    assert sim.checkin("Authenticate").status_code == 200
    assert sim.checkin("TokenUpdate").status_code == 200
    sim.enrolled = True
    assert sim.connect() == [("DeviceInformation", "Acknowledged"), ("SecurityInfo", "Acknowledged")], sim.errors
    devices = client.get(f"/api/mdm/devices/?udid={sim.facts.udid}", headers=admin).json
    assert devices[0]["os_version"] == sim.facts.os_version


def test_certificate_from_an_untrusted_ca_is_refused(http, external_enrollment):
    sim = enroll_with(INTRUDER, http, external_enrollment["enroll_url"])
    resp = sim.checkin("Authenticate")
    assert resp.status_code == 400 and "untrusted device certificate" in resp.text
