"""Profiles by DDM (a blueprint's ``legacy_profiles_via_ddm``): simulated devices, the real HTTP
stack. A DDM-capable device gets its profiles as com.apple.configuration.legacy declarations
and downloads each from its ProfileURL; no InstallProfile is sent; the URL serves that device
only, while the version is in its set."""
from __future__ import annotations

import pytest
from profiles_data import b64, mobileconfig


@pytest.fixture
def mdm_settings():
    return {"mtls_proxy": True}


@pytest.fixture
def setup(client, admin, enrollment):
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "Fleet", "legacy_profiles_via_ddm": True})
    assert bp.status_code == 201 and bp.json["legacy_profiles_via_ddm"] is True, bp.json
    bp = bp.json
    assert client.put(f"/api/mdm/ota_enrollments/{enrollment['id']}/", headers=admin,
                      json={"blueprint": bp["id"]}).status_code == 200
    art = client.post("/api/mdm/artifacts/", headers=admin, json={
        "name": "Wi-Fi", "type": "Profile", "channel": "Device", "platforms": ["macOS", "iOS"]}).json
    v1 = client.post("/api/mdm/profiles/", headers=admin, json={
        "artifact": art["id"], "version": 1, "macos": True, "ios": True, "source": b64(mobileconfig(version=1))}).json
    item = client.post("/api/mdm/blueprint_artifacts/", headers=admin, json={
        "blueprint": bp["id"], "artifact": art["id"], "macos": True, "ios": True})
    assert item.status_code == 201, item.json
    return {"blueprint": bp, "artifact": art, "v1": v1}


def statuses(client, admin, device_id):
    return {a["artifact_version"]: a["status"] for a in
            client.get(f"/api/mdm/devices/{device_id}/artifacts/", headers=admin).json}


def legacy(sim):
    return {i: d for i, d in sim.declarations.items() if d.get("Type") == "com.apple.configuration.legacy"}


def test_a_ddm_device_gets_its_profile_as_a_legacy_declaration(client, admin, enrolled, setup, http):
    sim, device_id = enrolled("mac")
    handled = sim.connect()
    assert ("DeclarativeManagement", "Acknowledged") in handled, (handled, sim.errors)
    assert not any(name == "InstallProfile" for name, _ in handled), handled
    assert not sim.errors, sim.errors
    declared = legacy(sim)
    assert list(declared) == [f"espalier.legacy.{setup['artifact']['id']}"]
    activation = [d for d in sim.declarations.values() if d["kind"] == "activation"][0]
    assert list(declared) == activation["Payload"]["StandardConfigurations"]
    assert sim.profiles["com.example.wifi"]["PayloadDescription"] == "version 1"
    assert statuses(client, admin, device_id) == {setup["v1"]["id"]: "installed"}
    assert sim.connect() == []  # converged: no InstallProfile later either

    # the URL is the device's: another device, a forged key or a junk token get a 404
    url = next(iter(declared.values()))["Payload"]["ProfileURL"]
    path = url[url.index("/public/"):]
    assert http.get(path).status_code == 200
    device_part, version, key = path.rstrip("/").rsplit("/", 1)[1].split(".")
    _other, other_id = enrolled("iphone")
    for forged in (f"{other_id}.{version}.{key}",
                   f"{device_part}.{version}.{'0' * len(key)}", "junk", "1." + "a" * 36 + ".x", "9" * 400):
        assert http.get(f"/public/mdm/legacy_profiles/{forged}/").status_code == 404, forged

    # a new version: the device downloads it; the old URL serves nothing any more
    v2 = client.post("/api/mdm/profiles/", headers=admin, json={
        "artifact": setup["artifact"]["id"], "version": 2, "macos": True, "ios": True,
        "source": b64(mobileconfig(version=2))}).json
    handled = sim.connect()
    assert ("DeclarativeManagement", "Acknowledged") in handled and not sim.errors, (handled, sim.errors)
    assert sim.profiles["com.example.wifi"]["PayloadDescription"] == "version 2"
    assert statuses(client, admin, device_id) == {setup["v1"]["id"]: "removed", v2["id"]: "installed"}
    assert http.get(path).status_code == 404

    # out of the blueprint: the declaration goes, and its profile with it
    client.delete(f"/api/mdm/blueprint_artifacts/{client.get('/api/mdm/blueprint_artifacts/', headers=admin).json[0]['id']}/",
                  headers=admin)
    sim.connect()
    assert not legacy(sim) and "com.example.wifi" not in sim.profiles
    assert statuses(client, admin, device_id)[v2["id"]] == "removed"


def test_a_device_without_ddm_gets_the_profile_by_install_profile(client, admin, enrollment, http, setup):
    from espalier.sim.device import SimulatedDevice

    sim = SimulatedDevice.flavour("intel_t1")
    sim.facts.os_version = "12.7.6"  # DDM needs macOS 13
    assert sim.enroll(enrollment["enroll_url"], http), sim.errors
    handled = sim.connect()
    assert ("InstallProfile", "Acknowledged") in handled, (handled, sim.errors)
    assert not any(name == "DeclarativeManagement" for name, _ in handled) and not legacy(sim)
    assert sim.profiles["com.example.wifi"]["PayloadDescription"] == "version 1"


def test_the_flag_follows_drf_boolean_rules_and_defaults_on_as_zentral(client, admin):
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "Other"}).json
    assert bp["legacy_profiles_via_ddm"] is True
    resp = client.put(f"/api/mdm/blueprints/{bp['id']}/", headers=admin,
                      json={"name": "Other", "legacy_profiles_via_ddm": "maybe"})
    assert resp.status_code == 400 and resp.json == {"legacy_profiles_via_ddm": ["Must be a valid boolean."]}, resp.json
    resp = client.put(f"/api/mdm/blueprints/{bp['id']}/", headers=admin, json={"name": "Other",
                                                                             "legacy_profiles_via_ddm": False})
    assert resp.json["legacy_profiles_via_ddm"] is False
    resp = client.put(f"/api/mdm/blueprints/{bp['id']}/", headers=admin, json={"name": "Other"})
    assert resp.json["legacy_profiles_via_ddm"] is False  # absent: unchanged


def test_flipping_the_flag_hands_profiles_over_both_ways(client, admin, enrolled, setup):
    """MDM-installed profile -> DDM takes the row over; DDM -> off: the legacy declaration goes,
    its row is removed and convergence installs the profile by InstallProfile."""
    bp = setup["blueprint"]
    assert client.put(f"/api/mdm/blueprints/{bp['id']}/", headers=admin,
                      json={"name": "Fleet", "legacy_profiles_via_ddm": False}).status_code == 200
    sim, device_id = enrolled("mac")
    assert ("InstallProfile", "Acknowledged") in sim.connect()
    assert statuses(client, admin, device_id) == {setup["v1"]["id"]: "installed"}

    assert client.put(f"/api/mdm/blueprints/{bp['id']}/", headers=admin,
                      json={"name": "Fleet", "legacy_profiles_via_ddm": True}).json["legacy_profiles_via_ddm"] is True
    handled = sim.connect()
    assert ("DeclarativeManagement", "Acknowledged") in handled and not sim.errors, (handled, sim.errors)
    assert legacy(sim) and sim.profiles["com.example.wifi"]["PayloadDescription"] == "version 1"
    assert statuses(client, admin, device_id) == {setup["v1"]["id"]: "installed"}

    client.put(f"/api/mdm/blueprints/{bp['id']}/", headers=admin, json={"name": "Fleet", "legacy_profiles_via_ddm": False})
    handled = sim.connect() + sim.connect()
    assert ("DeclarativeManagement", "Acknowledged") in handled, handled
    assert ("InstallProfile", "Acknowledged") in handled, handled
    assert not legacy(sim) and sim.profiles["com.example.wifi"]["PayloadDescription"] == "version 1"
    assert statuses(client, admin, device_id) == {setup["v1"]["id"]: "installed"}
    assert sim.connect() == []
