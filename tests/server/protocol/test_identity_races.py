"""Two Authenticates at once cannot bind one certificate to two devices, or one UDID twice,
nor enroll more new devices than an enrollment's quota.

Authenticate asks whether the certificate is bound elsewhere, then writes the device. Two
requests can both ask before either writes; the database's unique indexes on the
fingerprint and the UDID decide, and the loser gets a 400 (never a 500, never a second
binding). On PostgreSQL the requests really interleave (a barrier holds both after their
checks); SQLite serialises writers (BEGIN IMMEDIATE), so there the check is made to miss.
"""
from __future__ import annotations

import copy
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from espalier.mdm import identity as ident
from espalier.models import EnrolledDevice
from espalier.sim.device import SimulatedDevice

from e2e import BASE


@pytest.fixture
def mdm_settings(both_identity_modes):
    return both_identity_modes


@pytest.fixture
def settings(request, pg_url, mdm_settings, settings_factory, sqlite_settings):
    """PostgreSQL; SQLite too where a test is parametrized with ``settings``."""
    if getattr(request, "param", "postgresql") == "postgresql":
        return settings_factory(pg_url, **mdm_settings)
    return sqlite_settings(**mdm_settings)


def _with_identity(http, enrollment, facts=None) -> SimulatedDevice:
    sim = SimulatedDevice(facts) if facts else SimulatedDevice.flavour("mac")
    sim.client = http
    assert sim.download_profile(enrollment["enroll_url"]) and sim.request_identity(), sim.errors
    return sim


def _sharing_identity(first: SimulatedDevice) -> SimulatedDevice:
    """Another Mac presenting ``first``'s certificate (a copied identity)."""
    other = SimulatedDevice.flavour("mac")
    other.client, other.mdm_payload = first.client, first.mdm_payload
    other.identity_cert, other.identity_key = first.identity_cert, first.identity_key
    return other


def _bound_rows(runtime, fingerprint: str) -> int:
    with runtime.db.session() as s:
        return s.scalar(select(func.count()).where(EnrolledDevice.cert_fingerprint == fingerprint))


def _fingerprint(sim: SimulatedDevice) -> str:
    from cryptography.hazmat.primitives import hashes

    return sim.identity_cert.fingerprint(hashes.SHA256()).hex()


def _concurrently(app, monkeypatch, sims: list[SimulatedDevice]) -> list[httpx.Response]:
    """Authenticate every sim at once, each on its own client; all pass their checks first."""
    barrier = threading.Barrier(len(sims))
    checked = ident.authorize_claim

    def held(*args, **kwargs):
        try:
            return checked(*args, **kwargs)
        finally:
            barrier.wait(timeout=10)

    monkeypatch.setattr(ident, "authorize_claim", held)

    def run(sim):
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url=BASE) as client:
            sim.client = client
            return sim.checkin("Authenticate")

    with ThreadPoolExecutor(len(sims)) as pool:
        return list(pool.map(run, sims))


def _one_won(responses: list[httpx.Response], reason: bytes, status: int = 400) -> None:
    statuses = sorted(r.status_code for r in responses)
    assert statuses == sorted([200, status]), [(r.status_code, r.text) for r in responses]
    (lost,) = (r for r in responses if r.status_code == status)
    assert reason in lost.content


def test_one_certificate_for_two_new_devices_at_once_binds_one(app, http, enrollment, runtime, monkeypatch):
    first = _with_identity(http, enrollment)
    second = _sharing_identity(first)
    _one_won(_concurrently(app, monkeypatch, [first, second]), b"at the same time")
    assert _bound_rows(runtime, _fingerprint(first)) == 1


def test_two_certificates_for_one_new_udid_at_once_enroll_one(app, http, enrollment, runtime, monkeypatch):
    first = _with_identity(http, enrollment)
    second = _with_identity(http, enrollment, copy.deepcopy(first.facts))
    _one_won(_concurrently(app, monkeypatch, [first, second]), b"at the same time")
    with runtime.db.session() as s:
        (device,) = s.scalars(select(EnrolledDevice).where(EnrolledDevice.udid == first.facts.udid)).all()
        assert device.cert_fingerprint in (_fingerprint(first), _fingerprint(second))


def _checks_miss(monkeypatch) -> None:
    """As if the other request had not committed when this one asked."""
    asked = ident.certificate_origin

    def stale(*args, **kwargs):
        origin = asked(*args, **kwargs)
        return origin and ident.CertificateOrigin(origin.session, origin.udid, origin.renews, origin.blocked, None)

    monkeypatch.setattr(ident, "certificate_origin", stale)


@pytest.mark.parametrize("settings", ["postgresql", "sqlite"], indirect=True)
def test_the_database_refuses_a_second_binding_the_check_missed(http, enrollment, runtime, monkeypatch):
    first = _with_identity(http, enrollment)
    assert first.enrollment_checkin("Authenticate") and first.enrollment_checkin("TokenUpdate"), first.errors
    _checks_miss(monkeypatch)
    response = _sharing_identity(first).checkin("Authenticate")
    assert response.status_code == 400 and b"at the same time" in response.content
    assert _bound_rows(runtime, _fingerprint(first)) == 1
    assert ("DeviceInformation", "Acknowledged") in first.connect(), first.errors  # the bound device keeps working


@pytest.fixture
def quota_enrollment(client, admin, push_certificate):
    resp = client.post("/api/mdm/ota_enrollments/", headers=admin, json={
        "name": "One seat", "push_certificate": push_certificate["id"], "attestation": "none", "quota": 1})
    assert resp.status_code == 201 and resp.json["quota"] == 1, resp.json
    return resp.json


def _devices_of(runtime, enrollment_id: int) -> int:
    with runtime.db.session() as s:
        return s.scalar(select(func.count()).where(EnrolledDevice.enrollment_id == enrollment_id))


@pytest.mark.parametrize("settings", ["postgresql", "sqlite"], indirect=True)
def test_a_full_quota_refuses_new_devices_not_its_own(http, quota_enrollment, runtime):
    first = _with_identity(http, quota_enrollment)
    assert first.enrollment_checkin("Authenticate") and first.enrollment_checkin("TokenUpdate"), first.errors
    response = _with_identity(http, quota_enrollment).checkin("Authenticate")
    assert response.status_code == 410 and b"reached its quota" in response.content
    assert first.checkin("Authenticate").status_code == 200  # its own device re-authenticates
    assert _devices_of(runtime, quota_enrollment["id"]) == 1


def test_new_devices_at_once_do_not_exceed_the_quota(app, http, quota_enrollment, runtime, monkeypatch):
    sims = [_with_identity(http, quota_enrollment) for _ in range(2)]
    _one_won(_concurrently(app, monkeypatch, sims), b"reached its quota", 410)
    assert _devices_of(runtime, quota_enrollment["id"]) == 1
