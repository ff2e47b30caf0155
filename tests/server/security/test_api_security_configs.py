"""/api/mdm/filevault_configs/ and /api/mdm/recovery_password_configs/: Zentral's contract."""
from __future__ import annotations

import pytest

from espalier.models import RecoveryPasswordConfig

FV = "/api/mdm/filevault_configs/"
RP = "/api/mdm/recovery_password_configs/"
FV_FIELDS = {"id", "name", "escrow_location_display_name", "at_login_only", "bypass_attempts", "show_recovery_key",
             "destroy_key_on_standby", "prk_rotation_interval_days", "created_at", "updated_at"}
RP_FIELDS = {"id", "name", "dynamic_password", "static_password", "rotation_interval_days",
             "rotate_firmware_password", "created_at", "updated_at"}


def test_filevault_config_crud_with_zentrals_fields_and_defaults(client, admin):
    resp = client.post(FV, headers=admin, json={"name": "Default", "escrow_location_display_name": "Espalier"})
    assert resp.status_code == 201, resp.json
    c = resp.json
    assert set(c) == FV_FIELDS
    assert (c["at_login_only"], c["bypass_attempts"], c["show_recovery_key"], c["destroy_key_on_standby"],
            c["prk_rotation_interval_days"]) == (False, -1, False, False, 0)
    assert client.post(FV, headers=admin, json={"name": "Other", "escrow_location_display_name": "X"}).status_code == 201
    assert [x["name"] for x in client.get(FV, headers=admin).json] == ["Default", "Other"]
    assert [x["id"] for x in client.get(FV, headers=admin, query_string={"name": "Default"}).json] == [c["id"]]
    page = client.get(FV, headers=admin, query_string={"limit": 1}).json
    assert page["count"] == 2 and len(page["results"]) == 1
    assert client.get(f"{FV}{c['id']}/", headers=admin).json == c
    resp = client.put(f"{FV}{c['id']}/", headers=admin, json={
        "name": "Renamed", "escrow_location_display_name": "IT", "at_login_only": True, "bypass_attempts": 1,
        "show_recovery_key": True, "destroy_key_on_standby": True, "prk_rotation_interval_days": 90})
    assert resp.status_code == 200, resp.json
    assert {k: resp.json[k] for k in FV_FIELDS - {"id", "created_at", "updated_at"}} == {
        "name": "Renamed", "escrow_location_display_name": "IT", "at_login_only": True, "bypass_attempts": 1,
        "show_recovery_key": True, "destroy_key_on_standby": True, "prk_rotation_interval_days": 90}
    assert client.delete(f"{FV}{c['id']}/", headers=admin).status_code == 204
    assert client.get(f"{FV}{c['id']}/", headers=admin).status_code == 404


@pytest.mark.parametrize("body, errors", [
    ({"at_login_only": False, "bypass_attempts": 1}, {"bypass_attempts": ["Must be -1 when at_login_only is False"]}),
    ({"at_login_only": True, "bypass_attempts": -1}, {"bypass_attempts": ["Must be >= 0 when at_login_only is True"]}),
    ({"at_login_only": True}, {"bypass_attempts": ["Must be >= 0 when at_login_only is True"]}),
    ({"bypass_attempts": -2}, {"bypass_attempts": ["Ensure this value is greater than or equal to -1."]}),
    ({"prk_rotation_interval_days": 366},
     {"prk_rotation_interval_days": ["Ensure this value is less than or equal to 365."]}),
    ({"name": None}, {"name": ["This field may not be null."]}),
])
def test_filevault_config_validation_messages(client, admin, body, errors):
    resp = client.post(FV, headers=admin, json={"name": "FV", "escrow_location_display_name": "E", **body})
    assert (resp.status_code, resp.json) == (400, errors)


def test_filevault_config_required_fields_and_unique_name(client, admin):
    assert client.post(FV, headers=admin, json={}).json == {"name": ["This field is required."],
                                                            "escrow_location_display_name": ["This field is required."]}
    client.post(FV, headers=admin, json={"name": "FV", "escrow_location_display_name": "E"})
    resp = client.post(FV, headers=admin, json={"name": "FV", "escrow_location_display_name": "E"})
    assert (resp.status_code, resp.json) == (400, {"name": ["file vault config with this name already exists."]})


def test_delete_refused_while_a_blueprint_uses_the_configuration(client, admin):
    fv = client.post(FV, headers=admin, json={"name": "FV", "escrow_location_display_name": "E"}).json
    rp = client.post(RP, headers=admin, json={"name": "RP"}).json
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={
        "name": "B", "filevault_config": fv["id"], "recovery_password_config": rp["id"]}).json
    assert (bp["filevault_config"], bp["recovery_password_config"]) == (fv["id"], rp["id"])
    resp = client.delete(f"{FV}{fv['id']}/", headers=admin)
    assert (resp.status_code, resp.json) == (400, ["This FileVault configuration cannot be deleted"])
    resp = client.delete(f"{RP}{rp['id']}/", headers=admin)
    assert (resp.status_code, resp.json) == (400, ["This recovery password configuration cannot be deleted"])
    # absent: unchanged; null: cleared (then the configurations can go)
    bp2 = client.put(f"/api/mdm/blueprints/{bp['id']}/", headers=admin, json={"name": "B"}).json
    assert (bp2["filevault_config"], bp2["recovery_password_config"]) == (fv["id"], rp["id"])
    bp3 = client.put(f"/api/mdm/blueprints/{bp['id']}/", headers=admin, json={
        "name": "B", "filevault_config": None, "recovery_password_config": None}).json
    assert (bp3["filevault_config"], bp3["recovery_password_config"]) == (None, None)
    assert client.delete(f"{FV}{fv['id']}/", headers=admin).status_code == 204
    assert client.delete(f"{RP}{rp['id']}/", headers=admin).status_code == 204


def test_blueprint_refuses_unknown_configurations(client, admin):
    resp = client.post("/api/mdm/blueprints/", headers=admin, json={
        "name": "B", "filevault_config": 999, "recovery_password_config": 998})
    assert (resp.status_code, resp.json) == (400, {"filevault_config": ['Invalid pk "999" - object does not exist.'],
                                                   "recovery_password_config": [
                                                       'Invalid pk "998" - object does not exist.']})
    resp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "B", "filevault_config": "x"})
    assert (resp.status_code, resp.json) == (400, {"filevault_config": ["A valid integer is required."]})


def test_recovery_password_config_crud_static_password_sealed(client, admin, runtime):
    resp = client.post(RP, headers=admin, json={"name": "Static", "dynamic_password": False,
                                                "static_password": "12345678"})
    assert resp.status_code == 201, resp.json
    c = resp.json
    assert set(c) == RP_FIELDS
    assert (c["dynamic_password"], c["static_password"], c["rotation_interval_days"],
            c["rotate_firmware_password"]) == (False, "12345678", 0, False)
    with runtime.db.session() as s:
        row = s.get(RecoveryPasswordConfig, c["id"])
        assert "12345678" not in row.static_password and runtime.secrets.open_str(row, "static_password") == "12345678"
    assert client.get(f"{RP}{c['id']}/", headers=admin).json == c
    resp = client.put(f"{RP}{c['id']}/", headers=admin, json={
        "name": "Dynamic", "dynamic_password": True, "rotation_interval_days": 17, "rotate_firmware_password": True})
    assert resp.status_code == 200, resp.json
    assert (resp.json["static_password"], resp.json["rotation_interval_days"], resp.json["rotate_firmware_password"]) \
        == (None, 17, True)
    with runtime.db.session() as s:
        assert s.get(RecoveryPasswordConfig, c["id"]).static_password is None
    default = client.post(RP, headers=admin, json={"name": "Default"}).json
    assert (default["dynamic_password"], default["static_password"]) == (True, None)
    assert [x["name"] for x in client.get(RP, headers=admin, query_string={"name": "Default"}).json] == ["Default"]
    assert client.delete(f"{RP}{c['id']}/", headers=admin).status_code == 204


@pytest.mark.parametrize("body, errors", [
    ({"dynamic_password": True, "static_password": "12345678", "rotation_interval_days": 0,
      "rotate_firmware_password": True},
     {"static_password": ["Cannot be set when dynamic_password is true"],
      "rotate_firmware_password": ["Cannot be set without a rotation interval"]}),
    ({"dynamic_password": False, "rotation_interval_days": 17, "rotate_firmware_password": True},
     {"static_password": ["Required when dynamic_password is false"],
      "rotation_interval_days": ["Cannot be set with a static password"],
      "rotate_firmware_password": ["Cannot be set with a static password"]}),
    ({"dynamic_password": False, "static_password": "1234568", "rotation_interval_days": 17,
      "rotate_firmware_password": True},
     {"rotation_interval_days": ["Cannot be set with a static password"],
      "rotate_firmware_password": ["Cannot be set with a static password"]}),
    ({"rotation_interval_days": 366}, {"rotation_interval_days": ["Ensure this value is less than or equal to 365."]}),
    ({"static_password": ""}, {"static_password": ["This field may not be blank."]}),
])
def test_recovery_password_config_validation_messages(client, admin, body, errors):
    resp = client.post(RP, headers=admin, json={"name": "RP", **body})
    assert (resp.status_code, resp.json) == (400, errors)


@pytest.mark.parametrize("method, path, permission", [
    ("get", FV, "mdm.view_filevaultconfig"), ("post", FV, "mdm.add_filevaultconfig"),
    ("get", FV + "{id}/", "mdm.view_filevaultconfig"), ("put", FV + "{id}/", "mdm.change_filevaultconfig"),
    ("delete", FV + "{id}/", "mdm.delete_filevaultconfig"),
    ("get", RP, "mdm.view_recoverypasswordconfig"), ("post", RP, "mdm.add_recoverypasswordconfig"),
    ("get", RP + "{id}/", "mdm.view_recoverypasswordconfig"),
    ("put", RP + "{id}/", "mdm.change_recoverypasswordconfig"),
    ("delete", RP + "{id}/", "mdm.delete_recoverypasswordconfig"),
])
def test_permissions(client, admin, make_token, method, path, permission):
    fv = client.post(FV, headers=admin, json={"name": "FV", "escrow_location_display_name": "E"}).json
    rp = client.post(RP, headers=admin, json={"name": "RP"}).json
    url = path.format(id=fv["id"] if path.startswith(FV) else rp["id"])
    body = {"name": "N", "escrow_location_display_name": "E"} if method in ("post", "put") else None
    call = getattr(client, method)
    assert call(url, json=body).status_code == 401
    others = [p for p in ("mdm.view_filevaultconfig", "mdm.add_filevaultconfig", "mdm.change_filevaultconfig",
                          "mdm.delete_filevaultconfig", "mdm.view_recoverypasswordconfig",
                          "mdm.add_recoverypasswordconfig", "mdm.change_recoverypasswordconfig",
                          "mdm.delete_recoverypasswordconfig") if p != permission]
    assert call(url, headers=make_token(*others), json=body).status_code == 403
    assert call(url, headers=make_token(permission), json=body).status_code in (200, 201, 204)


def test_viewers_do_not_see_static_passwords(client, admin, make_token):
    assert client.get(RP, headers=make_token(role="viewer")).status_code == 403
    assert client.get(FV, headers=make_token(role="viewer")).status_code == 200
    assert client.get(RP, headers=make_token(role="operator")).status_code == 200
