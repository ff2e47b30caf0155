"""Shared helpers for the end-to-end protocol tests: simulated devices against the real app."""
from __future__ import annotations

import httpx
import pytest

from espalier.sim.device import SimulatedDevice

from fakes.apns import FakeAPNs
from fakes.push_certs import make_ca, make_push_cert

BASE = "https://mdm.example.test"


@pytest.fixture(scope="session")
def push_pair():
    return make_push_cert(make_ca("Stand-in Apple push CA"))


@pytest.fixture(scope="module")
def push_ca():
    return make_ca("Stand-in Apple push CA")


@pytest.fixture
def fake_apns(push_ca, tmp_path):
    """APNs over HTTP/2 and TLS on loopback, trusting push certificates from ``push_ca``."""
    with FakeAPNs(ca_file=push_ca.write_cert(tmp_path / "push-ca.pem")) as fake:
        yield fake


def apns_settings(fake: FakeAPNs) -> dict:
    """apps["espalier.mdm"] settings that send pushes to ``fake``."""
    return {"apns": {"host": fake.host, "port": fake.port, "ca_file": fake.server_ca_file}}


@pytest.fixture
def http(app):
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url=BASE) as c:
        yield c


@pytest.fixture
def push_certificate(client, admin, push_pair):
    resp = client.post("/api/mdm/push_certificates/", headers=admin, json={
        "name": "Main", "certificate": push_pair.cert_pem.decode(), "private_key": push_pair.key_pem.decode()})
    assert resp.status_code == 201, resp.json
    return resp.json


@pytest.fixture
def enrollment(client, admin, push_certificate):
    """A lab enrollment (attestation none): simulated devices without an Apple identity."""
    resp = client.post("/api/mdm/ota_enrollments/", headers=admin,
                       json={"name": "Fleet", "push_certificate": push_certificate["id"], "attestation": "none"})
    assert resp.status_code == 201, resp.json
    return resp.json


@pytest.fixture
def enrolled(http, enrollment, client, admin):
    """enrolled(flavour="mac", **knobs) -> (simulated device, its API id)."""
    def factory(flavour: str = "mac", **knobs):
        sim = SimulatedDevice.flavour(flavour, **knobs)
        assert sim.enroll(enrollment["enroll_url"], http), sim.errors
        found = client.get(f"/api/mdm/devices/?udid={sim.facts.udid}", headers=admin).json
        assert len(found) == 1
        return sim, found[0]["id"]
    return factory


class StandInAppleCA:
    """Stands in for Apple's device CA: devices' Apple identities chain to it."""

    def __init__(self):
        from espalier.pki.ca import create_ca

        self.cert, self.key = create_ca("Stand-in Apple iPhone Device CA", "Apple Inc.")

    @property
    def pem(self) -> str:
        from cryptography.hazmat.primitives import serialization

        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def identity(self, udid: str):
        """(certificate, key) of a device's Apple-issued identity."""
        return issue_identity((self.cert, self.key), udid)


def issue_identity(ca, common_name: str):
    """(certificate, key) issued by ``ca`` (a (cert, key) pair) for ``common_name``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    from espalier.pki.ca import issue_certificate

    key = rsa.generate_private_key(65537, 2048)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])).sign(key, hashes.SHA256()))
    return issue_certificate(*ca, csr), key


@pytest.fixture(scope="session")
def apple_ca():
    return StandInAppleCA()
