"""DDM end to end: simulated devices, the real HTTP stack, PostgreSQL."""
from __future__ import annotations

import pytest


@pytest.fixture
def mdm_settings():
    return {"mtls_proxy": True}


PASSCODE = {"Type": "com.apple.configuration.passcode.settings", "Identifier": "com.example.passcode",
            "Payload": {"MinimumLength": 8}}


@pytest.fixture
def setup(client, admin, enrollment):
    """A blueprint on the enrollment with a passcode configuration declaration for macOS and iOS."""
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "Fleet"}).json
    assert client.put(f"/api/mdm/ota_enrollments/{enrollment['id']}/", headers=admin,
                      json={"blueprint": bp["id"]}).status_code == 200
    art = client.post("/api/mdm/artifacts/", headers=admin, json={
        "name": "Passcode", "type": "Configuration", "channel": "Device", "platforms": ["macOS", "iOS"]}).json
    v1 = client.post("/api/mdm/declarations/", headers=admin, json={
        "artifact": art["id"], "version": 1, "macos": True, "ios": True, "source": PASSCODE})
    assert v1.status_code == 201, v1.json
    item = client.post("/api/mdm/blueprint_artifacts/", headers=admin, json={
        "blueprint": bp["id"], "artifact": art["id"], "macos": True, "ios": True})
    assert item.status_code == 201, item.json
    return {"blueprint": bp, "artifact": art, "v1": v1.json, "item": item.json}


def statuses(client, admin, device_id):
    return {a["artifact_version"]: (a["status"], a["error_chain"]) for a in
            client.get(f"/api/mdm/devices/{device_id}/artifacts/", headers=admin).json}


def ddm_commands(sim):
    return [c for c in sim.commands if c.request_type == "DeclarativeManagement"]


def test_a_device_syncs_the_declaration_and_the_api_shows_it_installed(client, admin, enrolled, setup):
    sim, device_id = enrolled("mac")
    handled = sim.connect()
    assert ("DeclarativeManagement", "Acknowledged") in handled, (handled, sim.errors)
    assert not sim.errors, sim.errors
    assert sim.declarations["com.example.passcode"]["Payload"] == {"MinimumLength": 8}
    activation = [d for d in sim.declarations.values() if d["kind"] == "activation"]
    assert len(activation) == 1 and activation[0]["Payload"]["StandardConfigurations"] == ["com.example.passcode"]
    assert statuses(client, admin, device_id) == {setup["v1"]["id"]: ("installed", None)}
    rows = client.get(f"/api/mdm/devices/{device_id}/declarations/", headers=admin).json
    mine = {r["identifier"]: r for r in rows}
    assert mine["com.example.passcode"]["valid"] == "valid" and mine["com.example.passcode"]["active"] is True
    assert mine["com.example.passcode"]["server_token"] == setup["v1"]["server_token"]
    fleet = client.get(f"/api/mdm/device_artifacts/?enrolled_device={device_id}", headers=admin).json
    assert [r["status"] for r in fleet] == ["installed"]
    # converged: no second command, no more fetches
    fetches = list(sim.declaration_fetches)
    assert sim.connect() == []
    assert sim.connect() == []
    assert len(ddm_commands(sim)) == 1 and sim.declaration_fetches == fetches


def test_a_rejected_declaration_shows_failed_with_its_reason(client, admin, enrolled, setup):
    sim, device_id = enrolled("mac", reject_declarations={"com.example.passcode"})
    sim.connect()
    assert not sim.errors, sim.errors
    status, chain = statuses(client, admin, device_id)[setup["v1"]["id"]]
    assert status == "failed"
    assert chain[0]["Code"] == "Error.ConfigurationCannotBeApplied"
    rows = {r["identifier"]: r for r in client.get(f"/api/mdm/devices/{device_id}/declarations/",
                                                     headers=admin).json}
    assert rows["com.example.passcode"]["valid"] == "invalid"
    assert rows["com.example.passcode"]["reasons"][0]["Code"] == "Error.ConfigurationCannotBeApplied"
    assert sim.connect() == []  # a failure is not retried


def test_an_unknown_type_is_rejected_by_the_device(client, admin, enrolled, setup):
    art = client.post("/api/mdm/artifacts/", headers=admin, json={
        "name": "Future", "type": "Configuration", "channel": "Device"}).json
    v = client.post("/api/mdm/declarations/", headers=admin, json={
        "artifact": art["id"], "version": 1, "macos": True, "source": {
            "Type": "com.apple.configuration.from.the.future", "Identifier": "com.example.future",
            "Payload": {}}}).json
    client.post("/api/mdm/blueprint_artifacts/", headers=admin, json={
        "blueprint": setup["blueprint"]["id"], "artifact": art["id"], "macos": True})
    sim, device_id = enrolled("mac")
    sim.connect()
    found = statuses(client, admin, device_id)
    assert found[v["id"]][0] == "failed" and found[v["id"]][1][0]["Code"] == "Error.UnknownDeclarationType"
    assert found[setup["v1"]["id"]] == ("installed", None)


def test_changing_the_declaration_resyncs_exactly_once(client, admin, enrolled, setup):
    sim, device_id = enrolled("mac")
    sim.connect()
    assert len(ddm_commands(sim)) == 1
    old_token = sim.declarations_token
    resp = client.put(f"/api/mdm/declarations/{setup['v1']['id']}/", headers=admin, json={
        "artifact": setup["artifact"]["id"], "version": 1, "macos": True, "ios": True,
        "source": {**PASSCODE, "Payload": {"MinimumLength": 12}}})
    assert resp.status_code == 200, resp.json
    assert resp.json["server_token"] != setup["v1"]["server_token"]
    assert statuses(client, admin, device_id)[setup["v1"]["id"]][0] == "pending"
    handled = sim.connect()
    assert handled == [("DeclarativeManagement", "Acknowledged")], (handled, sim.errors)
    assert sim.declarations["com.example.passcode"]["Payload"] == {"MinimumLength": 12}
    assert sim.declarations_token != old_token
    assert statuses(client, admin, device_id)[setup["v1"]["id"]] == ("installed", None)
    assert sim.connect() == [] and sim.connect() == []
    assert len(ddm_commands(sim)) == 2
    # the same content again: same token, nothing to sync
    client.put(f"/api/mdm/declarations/{setup['v1']['id']}/", headers=admin, json={
        "artifact": setup["artifact"]["id"], "version": 1, "macos": True, "ios": True,
        "source": {**PASSCODE, "Payload": {"MinimumLength": 12}}})
    assert sim.connect() == []


def test_a_removed_declaration_is_removed(client, admin, enrolled, setup):
    sim, device_id = enrolled("mac")
    sim.connect()
    assert client.delete(f"/api/mdm/blueprint_artifacts/{setup['item']['id']}/", headers=admin).status_code == 204
    assert sim.connect() == [("DeclarativeManagement", "Acknowledged")]
    assert "com.example.passcode" not in sim.declarations
    assert statuses(client, admin, device_id)[setup["v1"]["id"]][0] == "removed"
    assert sim.connect() == []


def test_devices_out_of_scope_get_no_command(client, admin, enrolled, setup):
    tablet, tablet_id = enrolled("ipad")  # the artifact is macOS and iOS only
    tablet.connect()
    assert ddm_commands(tablet) == [] and statuses(client, admin, tablet_id) == {}
    old_mac, _ = enrolled("intel_t1")  # macOS 13.6: capable
    old_mac.connect()
    assert len(ddm_commands(old_mac)) == 1


def test_an_os_update_enforcement_is_reported_until_installed(client, admin, enrolled, setup):
    art = client.post("/api/mdm/artifacts/", headers=admin, json={
        "name": "Update", "type": "Configuration", "channel": "Device"}).json
    client.post("/api/mdm/declarations/", headers=admin, json={
        "artifact": art["id"], "version": 1, "macos": True, "source": {
            "Type": "com.apple.configuration.softwareupdate.enforcement.specific",
            "Identifier": "com.example.update",
            "Payload": {"TargetOSVersion": "15.1", "TargetBuildVersion": "24B83",
                        "TargetLocalDateTime": "2030-01-01T10:00:00"}}})
    client.post("/api/mdm/blueprint_artifacts/", headers=admin, json={
        "blueprint": setup["blueprint"]["id"], "artifact": art["id"], "macos": True})
    sim, _ = enrolled("mac")
    sim.connect()
    report = sim.status_reports[-1]["StatusItems"]
    assert report["softwareupdate"] == {"install-state": "downloading",
                                        "pending-version": {"os-version": "15.1", "build-version": "24B83"}}
    assert sim.install_os_update() and sim.facts.os_version == "15.1"
    assert sim.status_reports[-1]["StatusItems"]["softwareupdate"] == {"install-state": "none"}
