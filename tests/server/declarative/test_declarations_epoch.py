"""The DDM step's mark (models/convergence_epoch.py): a synced device's Idle connects skip
building its declaration set while the convergence epoch and the UTC day are those of its
mark, and the set's inputs clear or outdate the mark."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from espalier.models import DeviceSoftwareUpdate, EnrolledDevice, utcnow
from espalier.models import convergence_epoch as epochs


@pytest.fixture
def mdm_settings(both_identity_modes):
    return both_identity_modes


@pytest.fixture
def settings(both_databases):
    return both_databases


@pytest.fixture
def synced(runtime, client, admin, enrollment, enrolled):
    """A Mac on a blueprint with a declaration artifact, its set fetched: (sim, device id, blueprint)."""
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "DDM"}).json
    client.put(f"/api/mdm/ota_enrollments/{enrollment['id']}/", headers=admin, json={"blueprint": bp["id"]})
    art = client.post("/api/mdm/artifacts/", headers=admin, json={
        "name": "Passcode", "type": "Configuration", "channel": "Device", "platforms": ["macOS"]}).json
    resp = client.post("/api/mdm/declarations/", headers=admin, json={
        "artifact": art["id"], "version": 1, "macos": True, "source": {
            "Type": "com.apple.configuration.passcode.settings", "Identifier": "com.example.passcode",
            "Payload": {"MinimumLength": 8}}})
    assert resp.status_code == 201, resp.json
    client.post("/api/mdm/blueprint_artifacts/", headers=admin, json={
        "blueprint": bp["id"], "artifact": art["id"], "macos": True})
    before = current(runtime)
    sim, device_id = enrolled("mac")
    assert ("DeclarativeManagement", "Acknowledged") in sim.connect(), sim.errors
    assert "com.example.passcode" in sim.declarations
    # enrollment, the sync, the declaration fetches and status reports write no watched row:
    # the epoch is one row every admin change locks, never a device's hot path
    assert current(runtime) == before
    return sim, device_id, bp


def marks(runtime, device_id):
    with runtime.db.session() as s:
        return s.execute(select(EnrolledDevice.declarations_epoch, EnrolledDevice.declarations_epoch_on)
                         .where(EnrolledDevice.id == device_id)).one()


def current(runtime):
    with runtime.db.session() as s:
        return s.scalar(epochs.CURRENT)


def test_a_synced_device_s_idle_builds_no_set_and_a_new_day_builds_it_again(runtime, synced, counted):
    sim, device_id, _ = synced
    assert sim.connect() == [], sim.errors  # builds the set, finds it fetched, marks
    assert marks(runtime, device_id) == (current(runtime), utcnow().date())
    with counted() as seen:
        assert sim.connect() == [], sim.errors
    assert [s.split()[0] for s in seen["statements"]] == ["UPDATE", "SELECT"], seen["statements"]
    with runtime.db.session() as s, s.begin():  # the mark is yesterday's: a posting date may have come
        s.execute(update(EnrolledDevice).where(EnrolledDevice.id == device_id).values(
            declarations_epoch_on=utcnow().date() - timedelta(days=1)))
    with counted() as seen:
        assert sim.connect() == [], sim.errors
    assert any("FROM blueprint_artifacts" in s for s in seen["statements"]), seen["statements"]
    assert marks(runtime, device_id) == (current(runtime), utcnow().date())


def test_a_new_declaration_version_reaches_a_marked_device(runtime, client, admin, synced):
    sim, device_id, _ = synced
    assert sim.connect() == [], sim.errors
    assert marks(runtime, device_id)[0] == current(runtime)
    art_id = client.get("/api/mdm/artifacts/?name=Passcode", headers=admin).json[0]["id"]
    resp = client.post("/api/mdm/declarations/", headers=admin, json={
        "artifact": art_id, "version": 2, "macos": True, "source": {
            "Type": "com.apple.configuration.passcode.settings", "Identifier": "com.example.passcode",
            "Payload": {"MinimumLength": 12}}})
    assert resp.status_code == 201, resp.json
    assert ("DeclarativeManagement", "Acknowledged") in sim.connect(), sim.errors
    assert sim.declarations["com.example.passcode"]["Payload"] == {"MinimumLength": 12}


def test_the_ddm_tokens_and_the_software_update_state_clear_the_mark(runtime, synced):
    sim, device_id, _ = synced
    assert sim.connect() == [], sim.errors
    epoch, today = current(runtime), utcnow().date()

    def marked():
        with runtime.db.session() as s, s.begin():
            s.execute(update(EnrolledDevice).where(EnrolledDevice.id == device_id).values(
                declarations_epoch=epoch, declarations_epoch_on=today))

    with runtime.db.session() as s, s.begin():  # the device fetched another set
        s.get(EnrolledDevice, device_id).declarations_token = "0" * 40
    assert marks(runtime, device_id)[0] is None
    marked()
    with runtime.db.session() as s, s.begin():  # its software update state (the catalogue id it reports)
        row = s.get(DeviceSoftwareUpdate, device_id) or DeviceSoftwareUpdate(enrolled_device_id=device_id)
        row.software_update_device_id = "J999AP"
        s.add(row)
    assert marks(runtime, device_id)[0] is None
    assert current(runtime) == epoch  # neither moved the epoch

