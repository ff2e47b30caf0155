"""An OS update enforcement on a blueprint, end to end: the DDM set carries its declaration,
the device reports its install state, the API lists it below target until it updates."""
from __future__ import annotations

import pytest


@pytest.fixture
def mdm_settings():
    return {"mtls_proxy": True}


@pytest.fixture
def enforced(client, admin, enrollment):
    enforcement = client.post("/api/mdm/software_update_enforcements/", headers=admin, json={
        "name": "macOS 15.1", "platforms": ["macOS"], "os_version": "15.1", "build_version": "24B83",
        "local_datetime": "2030-01-01T10:00:00", "details_url": "https://example.com/updates"})
    assert enforcement.status_code == 201, enforcement.json
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "Updates"}).json
    assert client.put(f"/api/mdm/ota_enrollments/{enrollment['id']}/", headers=admin,
                      json={"blueprint": bp["id"]}).status_code == 200
    return bp, enforcement.json


def below(client, admin, enforcement_id):
    resp = client.get(f"/api/mdm/software_update_enforcements/{enforcement_id}/devices/", headers=admin)
    assert resp.status_code == 200, resp.json
    return {d["id"]: d for d in resp.json}


def test_a_blueprint_enforcement_reaches_the_mac_and_leaves_once_it_is_installed(client, admin, enrolled, enforced):
    bp, enforcement = enforced
    sim, device_id = enrolled("mac", supervised=True)
    assert sim.connect() == [] or not any(c.request_type == "DeclarativeManagement" for c in sim.commands)

    # the blueprint lists the enforcement: the device is asked to sync and gets the declaration
    resp = client.put(f"/api/mdm/blueprints/{bp['id']}/", headers=admin,
                      json={"name": "Updates", "software_update_enforcements": [enforcement["id"]]})
    assert resp.status_code == 200, resp.json
    sim.connect()
    assert not sim.errors, sim.errors
    declared = [d for d in sim.declarations.values()
                if d.get("Type") == "com.apple.configuration.softwareupdate.enforcement.specific"]
    assert len(declared) == 1, sim.declarations
    assert declared[0]["Payload"] == {"TargetOSVersion": "15.1", "TargetBuildVersion": "24B83",
                                      "TargetLocalDateTime": "2030-01-01T10:00:00",
                                      "DetailsURL": "https://example.com/updates"}
    activation = [d for d in sim.declarations.values() if d["kind"] == "activation"][0]
    assert declared[0]["Identifier"] in activation["Payload"]["StandardConfigurations"]

    # its status report reaches the listing of devices below the target
    listed = below(client, admin, enforcement["id"])
    assert listed[device_id]["install_state"] == "downloading"
    assert (listed[device_id]["pending_os_version"], listed[device_id]["target_os_version"]) == ("15.1", "15.1")
    rows = {r["identifier"]: r for r in client.get(f"/api/mdm/devices/{device_id}/declarations/", headers=admin).json}
    assert rows[declared[0]["Identifier"]]["valid"] == "valid" and rows[declared[0]["Identifier"]]["active"] is True

    # the Mac installs it and says so: no longer below the target, and the declaration leaves its set
    assert sim.install_os_update() and sim.facts.os_version == "15.1"
    assert below(client, admin, enforcement["id"]) == {}
    syncs = len([c for c in sim.commands if c.request_type == "DeclarativeManagement"])
    sim.connect()
    assert not sim.errors, sim.errors
    assert len([c for c in sim.commands if c.request_type == "DeclarativeManagement"]) == syncs + 1
    assert not [d for d in sim.declarations.values()
                if d.get("Type") == "com.apple.configuration.softwareupdate.enforcement.specific"]
    assert sim.connect() == []  # converged: no loop


def test_an_enforcement_change_pushes_and_resyncs_its_devices_once(client, admin, enrolled, enforced):
    bp, enforcement = enforced
    client.put(f"/api/mdm/blueprints/{bp['id']}/", headers=admin,
               json={"name": "Updates", "software_update_enforcements": [enforcement["id"]]})
    sim, _ = enrolled("mac", supervised=True)
    sim.connect()
    syncs = len([c for c in sim.commands if c.request_type == "DeclarativeManagement"])
    assert syncs == 1, sim.commands
    resp = client.put(f"/api/mdm/software_update_enforcements/{enforcement['id']}/", headers=admin, json={
        "name": "macOS 15.1", "platforms": ["macOS"], "os_version": "15.2", "build_version": "24C101",
        "local_datetime": "2030-02-01T10:00:00"})
    assert resp.status_code == 200, resp.json
    sim.connect()
    sim.connect()
    assert len([c for c in sim.commands if c.request_type == "DeclarativeManagement"]) == 2
    declared = [d for d in sim.declarations.values()
                if d.get("Type") == "com.apple.configuration.softwareupdate.enforcement.specific"]
    assert declared[0]["Payload"]["TargetOSVersion"] == "15.2"
