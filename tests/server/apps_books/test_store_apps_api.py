"""/api/mdm/store_apps/: Zentral's fields, permissions and error shapes; hostile input and
hostile device answers; the configuration encrypted at rest."""
from __future__ import annotations

import plistlib
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from espalier.mdm import store_apps as step
from espalier.sim import answers
from espalier.tasks import apps_books as jobs

ADAM = "408709785"
FIELDS = {"id", "artifact", "version", "location_asset", "associated_domains",
          "associated_domains_enable_direct_downloads", "configuration", "content_filter_uuid", "dns_proxy_uuid",
          "vpn_uuid", "prevent_backup", "removable", "remove_on_unenroll", "created_at", "updated_at",
          "ios", "ios_min_version", "ios_max_version", "ipados", "ipados_min_version", "ipados_max_version",
          "macos", "macos_min_version", "macos_max_version", "tvos", "tvos_min_version", "tvos_max_version",
          "shard_modulo", "default_shard", "excluded_tags", "tag_shards"}


@pytest.fixture(autouse=True)
def no_wait(monkeypatch):
    monkeypatch.setattr(step, "CONFIRM_DELAY", timedelta(0))


@pytest.fixture
def base(wired, upload, runtime, client, admin):
    fake = wired
    loc = fake.add_location(assets=[(ADAM, "STDQ", 5)])
    location = upload(loc).json
    jobs.sync_location(runtime, location["id"])
    la = client.get(f"/api/mdm/location_assets/?adam_id={ADAM}", headers=admin).json[0]
    art = client.post("/api/mdm/artifacts/", headers=admin, json={
        "name": "Pages", "type": "Store App", "channel": "Device", "platforms": ["macOS"]}).json
    return {"fake": fake, "loc": loc, "la": la, "artifact": art}


def body(base, **extra):
    return {"artifact": base["artifact"]["id"], "version": 1, "macos": True, "location_asset": base["la"]["id"],
            **extra}


def test_create_read_list_update_delete(base, client, admin):
    resp = client.post("/api/mdm/store_apps/", headers=admin, json=body(base))
    assert resp.status_code == 201, resp.json
    created = resp.json
    assert set(created) == FIELDS
    assert created["artifact"] == base["artifact"]["id"] and created["location_asset"] == base["la"]["id"]
    assert (created["configuration"], created["vpn_uuid"], created["associated_domains"]) == (None, None, [])
    assert (created["removable"], created["remove_on_unenroll"], created["prevent_backup"]) == (False, True, False)
    assert client.get("/api/mdm/store_apps/", headers=admin).json == [created]
    assert client.get(f"/api/mdm/store_apps/{created['id']}/", headers=admin).json == created
    resp = client.put(f"/api/mdm/store_apps/{created['id']}/", headers=admin, json=body(
        base, version=2, prevent_backup=True, dns_proxy_uuid="", configuration=""))
    assert resp.status_code == 200, resp.json
    assert (resp.json["version"], resp.json["prevent_backup"], resp.json["dns_proxy_uuid"],
            resp.json["configuration"]) == (2, True, None, None)
    assert client.delete(f"/api/mdm/store_apps/{created['id']}/", headers=admin).status_code == 204
    assert client.get(f"/api/mdm/store_apps/{created['id']}/", headers=admin).status_code == 404


def test_permissions(base, client, make_token):
    viewer = make_token("mdm.view_storeapp")
    assert client.get("/api/mdm/store_apps/", headers=viewer).status_code == 200
    assert client.post("/api/mdm/store_apps/", headers=viewer, json=body(base)).status_code == 403
    assert client.get("/api/mdm/store_apps/", headers=make_token("mdm.view_profile")).status_code == 403
    assert client.get("/api/mdm/store_apps/").status_code == 401


@pytest.mark.parametrize("extra, errors", [
    ({"configuration": "<plist><dict><key>a</key>"}, {"configuration": ["Invalid property list"]}),
    ({"configuration": plistlib.dumps(["not", "a", "dict"]).decode()}, {"configuration": ["Not a dictionary"]}),
    ({"configuration": '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaa">]><plist><dict>'
                       '<key>k</key><string>&a;</string></dict></plist>'}, {"configuration": ["Invalid property list"]}),
    ({"location_asset": 999999}, {"location_asset": ['Invalid pk "999999" - object does not exist.']}),
    ({"vpn_uuid": "not-a-uuid"}, {"vpn_uuid": ["This value does not match the required pattern."]}),
    ({"associated_domains": ["x"] * 101}, None),
    ({"associated_domains": [{"a": 1}]}, None),
    ({"version": 0}, None),
    ({"tvos": True}, {"tvos": ["Platform not available for this artifact"]}),
    ({"macos": False}, {"non_field_errors": ["You need to activate at least one platform"]}),
])
def test_bad_input_is_a_400_with_drf_errors(base, client, admin, extra, errors):
    resp = client.post("/api/mdm/store_apps/", headers=admin, json=body(base, **extra))
    assert resp.status_code == 400, resp.json
    if errors is not None:
        assert resp.json == errors
    else:
        assert set(resp.json) <= set(FIELDS)


def test_a_profile_artifact_is_refused_and_versions_do_not_collide(base, client, admin):
    art = client.post("/api/mdm/artifacts/", headers=admin, json={
        "name": "Wi-Fi", "type": "Profile", "channel": "Device"}).json
    resp = client.post("/api/mdm/store_apps/", headers=admin, json=body(base, artifact=art["id"]))
    assert resp.json == {"artifact": ["Not a store app artifact"]}
    assert client.post("/api/mdm/store_apps/", headers=admin, json=body(base)).status_code == 201
    resp = client.post("/api/mdm/store_apps/", headers=admin, json=body(base))
    assert resp.json == {"version": ["A version of this artifact with the same version number already exists"]}


def test_the_configuration_is_encrypted_at_rest(base, client, admin, runtime):
    config = plistlib.dumps({"Password": "s3cr3t-app-password"}).decode()
    created = client.post("/api/mdm/store_apps/", headers=admin, json=body(base, configuration=config)).json
    assert created["configuration"] == config.strip()  # DRF trims, as Zentral
    with runtime.db.engine.connect() as conn:
        stored = conn.execute(text("SELECT configuration FROM store_apps")).scalar()
    assert "s3cr3t" not in stored


@pytest.fixture
def on_blueprint(base, client, admin, enrollment):
    base["fake"].auto_complete = False
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "Apps"}).json
    client.put(f"/api/mdm/ota_enrollments/{enrollment['id']}/", headers=admin, json={"blueprint": bp["id"]})
    version = client.post("/api/mdm/store_apps/", headers=admin, json=body(base)).json
    client.post("/api/mdm/blueprint_artifacts/", headers=admin, json={
        "blueprint": bp["id"], "artifact": base["artifact"]["id"], "macos": True})
    return version


def licensed_mac(base, enrolled):
    sim, device_id = enrolled("mac")
    sim.connect()
    base["fake"].complete(list(base["fake"].events)[-1])
    return sim, device_id


def test_new_install_options_install_again_and_an_installed_version_cannot_be_deleted(
        base, on_blueprint, enrolled, client, admin):
    sim, device_id = licensed_mac(base, enrolled)
    sim.app_checks_before_installed = 0
    assert sim.connect()[0] == ("InstallApplication", "Acknowledged")
    resp = client.delete(f"/api/mdm/store_apps/{on_blueprint['id']}/", headers=admin)
    assert (resp.status_code, resp.json) == (400, ["This store app cannot be deleted"])
    config = plistlib.dumps({"Mode": "kiosk"}).decode()
    resp = client.put(f"/api/mdm/store_apps/{on_blueprint['id']}/", headers=admin, json=body(base, configuration=config))
    assert resp.status_code == 200
    handled = sim.connect()
    assert handled[0] == ("InstallApplication", "Acknowledged"), handled
    assert sim.commands[-2].command["Configuration"] == {"Mode": "kiosk"}
    assert sim.connect() == []


@pytest.mark.parametrize("answer", [
    {"ManagedApplicationList": "junk"}, {"ManagedApplicationList": {"com.example.store.app408709785": 7}},
    {"ManagedApplicationList": {"com.example.store.app408709785": {"Status": ["x"] * 1000}}}, {}])
def test_a_strange_managed_application_list_fails_the_row_never_the_connect(
        base, on_blueprint, enrolled, client, admin, monkeypatch, answer):
    sim, device_id = licensed_mac(base, enrolled)
    monkeypatch.setitem(answers.HANDLERS, "ManagedApplicationList", lambda d, c: ("Acknowledged", answer))
    handled = sim.connect()
    assert handled == [("InstallApplication", "Acknowledged"), ("ManagedApplicationList", "Acknowledged")], sim.errors
    [row] = client.get(f"/api/mdm/devices/{device_id}/artifacts/", headers=admin).json
    assert row["status"] == "failed"
    assert sim.connect() == []  # failed stays failed: not a loop of installs


def test_an_app_that_keeps_installing_is_checked_a_bounded_number_of_times(base, on_blueprint, enrolled, client,
                                                                          admin):
    sim, device_id = licensed_mac(base, enrolled)
    sim.app_checks_before_installed = 10_000
    handled = sim.connect()
    assert handled.count(("ManagedApplicationList", "Acknowledged")) == step.MAX_CHECKS
    [row] = client.get(f"/api/mdm/devices/{device_id}/artifacts/", headers=admin).json
    assert row["status"] == "failed" and "still Installing" in row["error_chain"][0]["LocalizedDescription"]


def test_a_huge_identifier_from_the_device_is_not_stored(base, on_blueprint, enrolled, runtime, monkeypatch):
    from espalier.models import Asset

    sim, _ = licensed_mac(base, enrolled)
    monkeypatch.setitem(answers.HANDLERS, "InstallApplication", lambda d, c: ("Acknowledged", {"Identifier": "x" * 5000}))
    assert sim.connect()[0] == ("InstallApplication", "Acknowledged")
    with runtime.db.session() as s:
        assert s.scalar(select(Asset.bundle_id).where(Asset.adam_id == ADAM)) is None
