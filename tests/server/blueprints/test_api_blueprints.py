"""Blueprints, artifacts, blueprint artifacts and profiles through the API (facts of Zentral's tests)."""
from __future__ import annotations

import base64

from profiles_data import b64, mobileconfig
from sqlalchemy import select

from espalier.models import Profile
from espalier.pki import cms

PLATFORM_FIELDS = {f"{p}{s}" for p in ("ios", "ipados", "macos", "tvos") for s in ("", "_min_version", "_max_version")}


def blueprint(client, admin, name="Default", **extra):
    return client.post("/api/mdm/blueprints/", headers=admin, json={"name": name, **extra})


def artifact(client, admin, name="Wi-Fi", **extra):
    return client.post("/api/mdm/artifacts/", headers=admin,
                       json={"name": name, "type": "Profile", "channel": "Device", **extra})


def profile(client, admin, artifact_id, version=1, source=None, **extra):
    data = {"artifact": artifact_id, "version": version, "macos": True,
            "source": source or b64(mobileconfig(version=version)), **extra}
    return client.post("/api/mdm/profiles/", headers=admin, json=data)


def test_blueprint_crud(client, admin):
    resp = blueprint(client, admin, collect_apps=2, collect_profiles="1")
    assert resp.status_code == 201, resp.json
    b = resp.json
    assert set(b) == {"id", "name", "inventory_interval", "collect_apps", "collect_certificates", "collect_profiles",
                      "legacy_profiles_via_ddm",
                      "software_update_enforcements", "filevault_config", "recovery_password_config",
                      "created_at", "updated_at"}
    assert (b["inventory_interval"], b["collect_apps"], b["collect_certificates"], b["collect_profiles"]) == (
        86400, 2, 0, 1)
    assert client.get("/api/mdm/blueprints/?name=Default", headers=admin).json == [b]
    assert client.get("/api/mdm/blueprints/?name=Other", headers=admin).json == []
    resp = client.put(f"/api/mdm/blueprints/{b['id']}/", headers=admin,
                      json={"name": "Renamed", "inventory_interval": 14400})
    assert resp.status_code == 200 and resp.json["name"] == "Renamed" and resp.json["inventory_interval"] == 14400
    assert resp.json["collect_apps"] == 2
    assert blueprint(client, admin, "Renamed").json == {"name": ["blueprint with this name already exists."]}
    assert client.delete(f"/api/mdm/blueprints/{b['id']}/", headers=admin).status_code == 204
    assert client.get(f"/api/mdm/blueprints/{b['id']}/", headers=admin).status_code == 404


def test_blueprint_validation_and_permissions(client, admin, make_token):
    resp = blueprint(client, admin, inventory_interval=60, collect_apps=3)
    assert resp.status_code == 400
    assert resp.json == {"inventory_interval": ["Ensure this value is greater than or equal to 14400."],
                         "collect_apps": ['"3" is not a valid choice.']}
    viewer = make_token("mdm.view_blueprint")
    assert client.get("/api/mdm/blueprints/", headers=viewer).status_code == 200
    assert blueprint(client, viewer).status_code == 403


def test_blueprint_in_use_cannot_be_deleted(client, admin, make_device):
    b = blueprint(client, admin).json
    make_device(blueprint_id=b["id"])
    resp = client.delete(f"/api/mdm/blueprints/{b['id']}/", headers=admin)
    assert resp.status_code == 400 and resp.json == ["This blueprint cannot be deleted"]


def test_artifact_crud(client, admin):
    resp = artifact(client, admin, platforms=["macOS", "iOS"], reinstall_interval=7)
    assert resp.status_code == 201, resp.json
    a = resp.json
    assert set(a) == {"id", "name", "type", "channel", "platforms", "requires", "install_during_setup_assistant",
                      "auto_update", "reinstall_interval", "reinstall_on_os_update", "created_at", "updated_at"}
    assert a["platforms"] == ["macOS", "iOS"] and a["auto_update"] is True and a["reinstall_on_os_update"] == "No"
    other = artifact(client, admin, "Other", requires=[a["id"]]).json
    assert other["requires"] == [a["id"]] and other["platforms"] == ["iOS", "iPadOS", "macOS", "tvOS"]
    resp = artifact(client, admin, "Third", requires=["00000000-0000-4000-8000-000000000000"], type="Enterprise App")
    assert resp.json == {"type": ['"Enterprise App" is not a valid choice.']}
    resp = artifact(client, admin, "Third", requires=["00000000-0000-4000-8000-000000000000"])
    assert resp.json == {"requires": ['Invalid pk "00000000-0000-4000-8000-000000000000" - object does not exist.']}
    assert artifact(client, admin).json == {"name": ["artifact with this name already exists."]}
    resp = client.put(f"/api/mdm/artifacts/{a['id']}/", headers=admin,
                      json={"name": "Wi-Fi", "type": "Profile", "channel": "Device", "auto_update": False})
    assert resp.status_code == 200 and resp.json["auto_update"] is False
    assert client.get("/api/mdm/artifacts/?name=Other", headers=admin).json == [other]
    assert client.delete(f"/api/mdm/artifacts/{other['id']}/", headers=admin).status_code == 204


def test_profile_versions(client, admin, runtime):
    a = artifact(client, admin).json
    source = b64(mobileconfig(version=1))
    resp = profile(client, admin, a["id"], source=source, excluded_tags=[])
    assert resp.status_code == 201, resp.json
    p = resp.json
    assert p["source"] == source and p["artifact"] == a["id"] and p["version"] == 1 and p["macos"] is True
    assert set(p) == PLATFORM_FIELDS | {"id", "artifact", "version", "shard_modulo", "default_shard", "excluded_tags",
                                        "tag_shards", "created_at", "updated_at", "source"}
    with runtime.db.session() as s:
        row = s.scalar(select(Profile))
        assert row.payload_identifier == "com.example.wifi" and row.payload_display_name == "Wi-Fi"
        assert row.payload_description == "version 1" and row.filename == "com.example.wifi.mobileconfig"
        assert row.source.startswith("v2:") and source not in row.source  # encrypted at rest
    resp = profile(client, admin, a["id"], version=1)
    assert resp.json == {"version": ["A version of this artifact with the same version number already exists"]}
    v2 = profile(client, admin, a["id"], version=2).json
    assert [x["version"] for x in client.get("/api/mdm/profiles/", headers=admin).json] == [1, 2]
    assert client.get(f"/api/mdm/profiles/{v2['id']}/", headers=admin).json == v2
    resp = client.put(f"/api/mdm/profiles/{v2['id']}/", headers=admin, json={
        "artifact": a["id"], "version": 3, "ios": True, "source": source})
    assert resp.status_code == 200 and resp.json["version"] == 3 and resp.json["ios"] and not resp.json["macos"]
    assert client.delete(f"/api/mdm/profiles/{v2['id']}/", headers=admin).status_code == 204
    resp = client.delete(f"/api/mdm/artifacts/{a['id']}/", headers=admin)
    assert resp.status_code == 204  # no blueprint lists it, no device has it


def test_signed_profile_is_kept_as_uploaded(client, admin, runtime):
    a = artifact(client, admin).json
    with runtime.db.session() as s:
        ca = runtime.ca.get(s)
    signed = cms.sign_attached(mobileconfig(), ca.certificate, ca.key)
    resp = profile(client, admin, a["id"], source=b64(signed))
    assert resp.status_code == 201, resp.json
    assert base64.b64decode(resp.json["source"]) == signed


def test_profile_source_errors(client, admin):
    a = artifact(client, admin).json
    assert profile(client, admin, a["id"], source="%%%").json == {"source": ["Must be base64."]}
    assert profile(client, admin, a["id"], source=b64(b"not a plist")).json == {"source": ["Not a plist"]}
    import plistlib
    no_uuid = plistlib.dumps({"PayloadIdentifier": "x", "PayloadContent": []})
    assert profile(client, admin, a["id"], source=b64(no_uuid)).json == {"source": ["Missing PayloadUUID"]}
    bad_scope = mobileconfig(scope="Galaxy")
    assert profile(client, admin, a["id"], source=b64(bad_scope)).json == {"source": ["Unknown PayloadScope: Galaxy"]}
    resp = profile(client, admin, "00000000-0000-4000-8000-000000000000")
    assert resp.json == {"artifact": ['Invalid pk "00000000-0000-4000-8000-000000000000" - object does not exist.']}


def test_filtered_item_validation(client, admin):
    a = artifact(client, admin, platforms=["macOS"]).json
    b = blueprint(client, admin).json
    tag = client.post("/api/inventory/tags/", headers=admin, json={"name": "beta"}).json

    def post(**fields):
        return client.post("/api/mdm/blueprint_artifacts/", headers=admin,
                           json={"blueprint": b["id"], "artifact": a["id"], **fields})

    assert post().json == {"non_field_errors": ["You need to activate at least one platform"]}
    assert post(ios=True).json == {"ios": ["Platform not available for this artifact"]}
    assert post(macos=True, shard_modulo=10, default_shard=11).json == {
        "default_shard": ["Must be less than or equal to the shard modulo"]}
    assert post(macos=True, excluded_tags=[tag["id"]], tag_shards=[{"tag": tag["id"], "shard": 5}]).json == {
        "excluded_tags": ["Tag beta also present in the tag shards"]}
    assert post(macos=True, shard_modulo=10, default_shard=5, tag_shards=[{"tag": tag["id"], "shard": 11}]).json == {
        "tag_shards": ["Shard for tag beta > shard modulo"]}
    assert post(macos=True, excluded_tags=[9999]).json == {"excluded_tags": ['Invalid pk "9999" - object does not exist.']}
    resp = post(macos=True, macos_min_version="13", tag_shards=[{"tag": tag["id"], "shard": 50}], default_shard=0)
    assert resp.status_code == 201, resp.json
    item = resp.json
    assert item["blueprint"] == b["id"] and item["artifact"] == a["id"] and item["tag_shards"] == [
        {"tag": tag["id"], "shard": 50}]
    assert post(macos=True).json == {"non_field_errors": ["The fields blueprint, artifact must make a unique set."]}
    resp = client.put(f"/api/mdm/blueprint_artifacts/{item['id']}/", headers=admin,
                      json={"blueprint": b["id"], "artifact": a["id"], "macos": True})
    assert resp.status_code == 200 and resp.json["tag_shards"] == [] and resp.json["default_shard"] == 100
    assert client.get("/api/mdm/blueprint_artifacts/", headers=admin).json == [resp.json]
    assert client.delete(f"/api/mdm/artifacts/{a['id']}/", headers=admin).json == ["This artifact cannot be deleted"]
    assert client.delete(f"/api/mdm/blueprint_artifacts/{item['id']}/", headers=admin).status_code == 204
