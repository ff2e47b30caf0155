"""Locations: upload and claim, renew, refuse, dry run, expiry, encryption, the API contract."""
from __future__ import annotations

import logging

import pytest

from espalier.models import Location
from espalier.pki.secrets import SecretError

FIELDS = ["id", "server_token_expiration_date", "organization_name", "name", "country_code", "library_uid",
          "platform", "website_url", "mdm_info_id", "created_at", "updated_at", "days_left", "expiring"]


def claims(fake):
    return [r for r in fake.requests if r.method == "POST" and r.path == "client/config"]


def test_upload_claims_the_location_and_stores_apples_fields(fake, upload, runtime, caplog):
    caplog.set_level(logging.DEBUG)
    loc = fake.add_location(name="Paris", org_name="Acme", country="FR")
    resp = upload(loc)
    assert resp.status_code == 201, resp.json
    body = resp.json
    assert list(body) == FIELDS
    assert (body["name"], body["organization_name"], body["country_code"], body["library_uid"], body["platform"],
            body["website_url"]) == ("Paris", "Acme", "FR", loc.uid, "enterprisestore", "https://business.apple.com")
    assert body["server_token_expiration_date"] == loc.expires.replace(tzinfo=None).isoformat()
    assert body["expiring"] is False and body["days_left"] >= 363
    # claimed for us: our mdmInfo id, our notification URL, a token of ours
    assert loc.mdm_info["id"] == body["mdm_info_id"] and loc.mdm_info["name"] == "Espalier"
    assert loc.notification_url == f"https://mdm.example.test/public/mdm/locations/{body['mdm_info_id']}/notify/"
    assert set(loc.notification_types) == {"ASSET_MANAGEMENT", "ASSET_COUNT"}
    assert loc.notification_auth_token.startswith("esp_nat_") and len(loc.notification_auth_token) > 40
    with runtime.db.session() as s:
        row = s.get(Location, body["id"])
        assert row.server_token.startswith("v2:") and loc.stoken not in row.server_token
        assert loc.notification_auth_token not in row.notification_auth_token
        assert runtime.secrets.open_str(row, "server_token") == loc.stoken
        assert runtime.secrets.open_str(row, "notification_auth_token") == loc.notification_auth_token
    assert loc.stoken not in caplog.text and loc.notification_auth_token not in caplog.text


def test_secrets_are_bound_to_their_row(fake, upload, runtime):
    a, b = upload(fake.add_location(name="A")).json, upload(fake.add_location(name="B")).json
    with runtime.db.session() as s, s.begin():
        row_a, row_b = s.get(Location, a["id"]), s.get(Location, b["id"])
        row_b.server_token = row_a.server_token
        with pytest.raises(SecretError):
            runtime.secrets.open(row_b, "server_token")


def test_the_same_token_again_changes_nothing(fake, upload):
    loc = fake.add_location()
    first = upload(loc).json
    again = upload(loc)
    assert again.status_code == 200 and again.json["id"] == first["id"]
    assert len(claims(fake)) == 1


def test_a_new_token_renews_the_same_row(fake, upload, client, admin):
    loc = fake.add_location(days=20)
    first = upload(loc).json
    assert first["expiring"] is True and first["days_left"] in (19, 20)
    auth_token = loc.notification_auth_token
    fake.new_token(loc, days=365)
    renewed = upload(loc)
    assert renewed.status_code == 200, renewed.json
    assert renewed.json["id"] == first["id"] and renewed.json["mdm_info_id"] == first["mdm_info_id"]
    assert renewed.json["expiring"] is False
    assert renewed.json["server_token_expiration_date"] > first["server_token_expiration_date"]
    assert loc.notification_auth_token == auth_token  # notifications in flight still authenticate
    # PUT on the location with its own new token is a renewal too
    fake.new_token(loc, days=300)
    put = client.put(f"/api/mdm/locations/{first['id']}/", headers=admin, json={"server_token": loc.stoken})
    assert put.status_code == 200 and put.json["id"] == first["id"]
    assert len(client.get("/api/mdm/locations/", headers=admin).json) == 1


def test_renewing_with_another_locations_token_is_refused(fake, upload, client, admin):
    first = upload(fake.add_location(name="Paris")).json
    other = fake.add_location(name="Lyon")
    resp = client.put(f"/api/mdm/locations/{first['id']}/", headers=admin, json={"server_token": other.stoken})
    assert resp.status_code == 400
    assert "another location" in resp.json["server_token"][0] and "Lyon" in resp.json["server_token"][0]
    assert other.mdm_info is None  # not claimed


def test_a_location_of_another_mdm_needs_force(fake, upload):
    loc = fake.add_location()
    fake.claim_elsewhere(loc, "Other MDM")
    resp = upload(loc)
    assert resp.status_code == 409 and "Other MDM" in resp.json["detail"]
    assert loc.mdm_info["name"] == "Other MDM"
    forced = upload(loc, force=True)
    assert forced.status_code == 201 and loc.mdm_info["id"] == forced.json["mdm_info_id"]


@pytest.mark.parametrize("token, message", [
    ("", "may not be blank"), ("not base64!", "not a .vpptoken"), ("eyJ0b2tlbiI6IDF9", "token, expDate and orgName"),
])
def test_junk_tokens_are_400(client, admin, token, message):
    resp = client.post("/api/mdm/locations/", headers=admin, json={"server_token": token})
    assert resp.status_code == 400 and message in resp.json["server_token"][0]


def test_a_token_apple_refuses_is_400(fake, upload):
    loc = fake.add_location()
    fake.new_token(loc)
    from fakes.apps_books import vpptoken

    resp = upload(type(loc)(**{**loc.__dict__, "stoken": vpptoken("revoked", "Org", loc.expires)}))
    assert resp.status_code == 400 and "Apple refused this token" in resp.json["server_token"][0]


def test_an_expired_token_is_400(fake, upload):
    resp = upload(fake.add_location(days=-1))
    assert resp.status_code == 400 and "expired" in resp.json["server_token"][0]


def test_dry_run_changes_nothing(fake, client, admin, upload):
    loc = fake.add_location(name="Paris")
    dry = client.post("/api/mdm/locations/?dry_run=1", headers=admin, json={"server_token": loc.stoken})
    assert dry.status_code == 200
    assert dry.json["action"] == "created" and dry.json["changed"] is True and dry.json["location"]["name"] == "Paris"
    assert loc.mdm_info is None and client.get("/api/mdm/locations/", headers=admin).json == []
    created = upload(loc).json
    same = client.post("/api/mdm/locations/?dry_run=1", headers=admin, json={"server_token": loc.stoken}).json
    assert same["action"] == "unchanged" and same["changed"] is False
    assert same["claimed_by"]["id"] == created["mdm_info_id"]
    fake.new_token(loc, days=30)
    renew = client.post("/api/mdm/locations/?dry_run=1", headers=admin, json={"server_token": loc.stoken}).json
    assert renew["action"] == "renewed" and renew["location"]["id"] == created["id"]
    assert client.get(f"/api/mdm/locations/{created['id']}/", headers=admin).json[
        "server_token_expiration_date"] == created["server_token_expiration_date"]


def test_list_filters_detail_delete_and_permissions(fake, upload, client, make_token):
    paris = upload(fake.add_location(name="Paris", org_name="Acme")).json
    upload(fake.add_location(name="Lyon", org_name="Other"))
    viewer = make_token("mdm.view_location")
    names = [loc["name"] for loc in client.get("/api/mdm/locations/", headers=viewer).json]
    assert names == ["Lyon", "Paris"]  # ordered by name, as Zentral
    assert [x["id"] for x in client.get("/api/mdm/locations/?name=Paris", headers=viewer).json] == [paris["id"]]
    assert [x["name"] for x in client.get("/api/mdm/locations/?organization_name=Other", headers=viewer).json] == [
        "Lyon"]
    assert client.get("/api/mdm/locations/?name=", headers=viewer).json.__len__() == 2
    assert client.get(f"/api/mdm/locations/{paris['id']}/", headers=viewer).json == paris
    assert client.get("/api/mdm/locations/").status_code == 401
    assert client.get("/api/mdm/locations/", headers=make_token("mdm.view_pushcertificate")).status_code == 403
    assert client.post("/api/mdm/locations/", headers=viewer, json={"server_token": "x"}).status_code == 403
    assert client.delete(f"/api/mdm/locations/{paris['id']}/", headers=viewer).status_code == 403
    deleter = make_token("mdm.delete_location", "mdm.view_location")
    assert client.delete(f"/api/mdm/locations/{paris['id']}/", headers=deleter).status_code == 204
    assert client.get(f"/api/mdm/locations/{paris['id']}/", headers=deleter).status_code == 404


def test_cli_add_and_list(fake, runtime, tmp_path):
    import json

    from click.testing import CliRunner

    from espalier.cli import main

    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(runtime.settings.data))
    loc = fake.add_location(name="Paris")
    token_file = tmp_path / "sToken_for_Paris.vpptoken"
    token_file.write_text(loc.stoken)
    result = CliRunner().invoke(main, ["--settings", str(settings), "locations", "add", str(token_file)])
    assert result.exit_code == 0, result.output
    assert "location created" in result.output and "Paris" in result.output and loc.stoken not in result.output
    assert loc.mdm_info is not None
    listed = CliRunner().invoke(main, ["--settings", str(settings), "locations", "list"])
    assert listed.exit_code == 0 and "Paris" in listed.output and "days)" in listed.output
    token_file.write_text("junk")
    bad = CliRunner().invoke(main, ["--settings", str(settings), "locations", "add", str(token_file)])
    assert bad.exit_code != 0 and "not a .vpptoken" in bad.output


def test_apple_unreachable_is_503_not_500(client, admin, settings_factory, pg_url, fake):
    from espalier import runtime as runtime_mod
    from espalier.app import create_app

    loc = fake.add_location()
    settings = settings_factory(pg_url, apps_books={"url": "https://127.0.0.1:9/mdm/v2/", "timeout": 2})
    rt = runtime_mod.build(settings)
    try:
        app = create_app(settings, runtime=rt)
        resp = app.test_client().post("/api/mdm/locations/", headers=admin, json={"server_token": loc.stoken})
        assert resp.status_code == 503 and "no answer" in resp.json["detail"]
    finally:
        rt.close()


def test_the_daily_check_warns_before_a_token_expires(fake, upload, runtime, caplog):
    from espalier.tasks.maintenance import check_locations

    soon = upload(fake.add_location(name="Soon", days=10)).json
    upload(fake.add_location(name="Later", days=200))
    with caplog.at_level(logging.WARNING, logger="espalier.tasks.maintenance"):
        assert check_locations(runtime) == {"expiring": [soon["id"]], "expired": []}
    assert "'Soon' token expires in" in caplog.text and "Later" not in caplog.text
