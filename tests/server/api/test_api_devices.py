"""/api/mdm/devices/: list, filters, pages, detail, block/unblock, secrets (Zentral's cases)."""
from __future__ import annotations

from datetime import datetime

import pytest

SEED_FIELDS = ["id", "udid", "serial_number", "name", "model", "platform", "os_version", "build_version",
               "apple_silicon", "cert_not_valid_after", "blueprint", "awaiting_configuration",
               "declarative_management", "dep_enrollment", "user_enrollment", "user_approved_enrollment",
               "supervised", "bootstrap_token_escrowed", "filevault_enabled", "filevault_prk_escrowed",
               "recovery_password_escrowed", "activation_lock_manageable", "last_seen_at", "last_notified_at",
               "checkout_at", "blocked_at", "created_at", "updated_at"]
OURS = ["pin_required_for_erase", "pin_required_for_lock", "released_at"]


def test_list_is_a_plain_list_with_every_field_of_zentral(client, admin, make_device):
    make_device()
    resp = client.get("/api/mdm/devices/", headers=admin)
    assert resp.status_code == 200
    assert isinstance(resp.json, list)
    assert sorted(resp.json[0]) == sorted(SEED_FIELDS + OURS)
    assert resp.json[0]["created_at"][:4].isdigit() and "T" in resp.json[0]["created_at"]


def test_dates_are_written_as_zentral_writes_them_in_a_page_and_in_the_detail(client, admin, make_device):
    d = make_device(last_seen_at=datetime(2026, 12, 8, 3, 4, 5, 123456), checkout_at=datetime(2026, 12, 8, 3, 4, 5))
    page = client.get("/api/mdm/devices/?limit=10", headers=admin).json["results"]
    for body in (page[0], client.get(f"/api/mdm/devices/{d.id}/", headers=admin).json):
        assert body["last_seen_at"] == "2026-12-08T03:04:05.123456"
        assert body["checkout_at"] == "2026-12-08T03:04:05"
        assert body["blocked_at"] is None
        assert body["created_at"] == d.created_at.isoformat()


def test_unknown_os_and_build_are_empty_strings(client, admin, make_device):
    d = make_device(os_version=None, build_version=None)
    body = client.get(f"/api/mdm/devices/{d.id}/", headers=admin).json
    assert (body["os_version"], body["build_version"]) == ("", "")


@pytest.mark.parametrize("device, erase, lock", [
    (dict(platform="macOS", apple_silicon=True), False, True),
    (dict(platform="macOS", apple_silicon=False, activation_lock_manageable=False), True, True),
    (dict(platform="macOS", apple_silicon=False, pin_required_for_erase=False, pin_required_for_lock=False),
     False, False),
    (dict(platform="iOS", apple_silicon=None), False, False),
])
def test_the_pin_rules_are_in_the_device_json(client, admin, make_device, device, erase, lock):
    d = make_device(**device)
    body = client.get(f"/api/mdm/devices/{d.id}/", headers=admin).json
    assert (body["pin_required_for_erase"], body["pin_required_for_lock"]) == (erase, lock)


def test_filters_by_serial_number_and_udid(client, admin, make_device):
    a, b = make_device(), make_device()
    resp = client.get(f"/api/mdm/devices/?serial_number={b.serial_number}", headers=admin)
    assert [d["id"] for d in resp.json] == [b.id]
    resp = client.get(f"/api/mdm/devices/?udid={a.udid}", headers=admin)
    assert [d["id"] for d in resp.json] == [a.id]
    assert client.get("/api/mdm/devices/?serial_number=NOPE", headers=admin).json == []


def test_empty_filters_are_ignored_and_unknown_ones_too(client, admin, make_device):
    a, b = make_device(), make_device()
    for query in ("serial_number=", "udid=&serial_number=", "colour=red", "short_name="):
        assert [d["id"] for d in client.get(f"/api/mdm/devices/?{query}", headers=admin).json] == [a.id, b.id]


def test_current_zentral_filters_and_ordering(client, admin, make_device, runtime):
    from espalier.models import EnrolledUser

    a, b = make_device(), make_device()
    with runtime.db.session() as s, s.begin():
        s.add(EnrolledUser(enrolled_device_id=b.id, user_id="U-1", short_name="john"))
    assert [d["id"] for d in client.get("/api/mdm/devices/?short_name=john", headers=admin).json] == [b.id]
    assert client.get("/api/mdm/devices/?email=john@example.com", headers=admin).json == []  # no realms here
    ordered = client.get("/api/mdm/devices/?ordering=-created_at", headers=admin).json
    assert [d["id"] for d in ordered] == [b.id, a.id]
    page = client.get("/api/mdm/devices/?ordering=-created_at&limit=1", headers=admin).json
    assert [d["id"] for d in page["results"]] == [b.id]
    bad = client.get("/api/mdm/devices/?ordering=name", headers=admin)
    assert bad.status_code == 400 and bad.json == {"ordering": ['"name" is not a valid choice.']}


def test_limit_offset_pages(client, admin, make_device):
    ids = [make_device().id for _ in range(5)]
    page = client.get("/api/mdm/devices/?limit=2", headers=admin).json
    assert page["count"] == 5 and [d["id"] for d in page["results"]] == ids[:2]
    assert page["previous"] is None and "offset=2" in page["next"]
    page = client.get("/api/mdm/devices/?limit=2&offset=4", headers=admin).json
    assert [d["id"] for d in page["results"]] == ids[4:] and page["next"] is None
    assert "offset=2" in page["previous"]


def test_bad_paging_is_ignored_as_drf_does(client, admin, make_device):
    """DRF's LimitOffsetPagination: an invalid limit or offset falls back to the default."""
    ids = [make_device().id for _ in range(3)]
    for query in ("limit=abc", "limit=0", "limit=-3"):
        assert [d["id"] for d in client.get(f"/api/mdm/devices/?{query}", headers=admin).json] == ids, query
    page = client.get("/api/mdm/devices/?limit=100000&offset=-1", headers=admin).json
    assert page["count"] == 3 and len(page["results"]) == 3  # capped at 1000, offset 0


def test_detail_and_404(client, admin, make_device):
    d = make_device()
    assert client.get(f"/api/mdm/devices/{d.id}/", headers=admin).json["udid"] == d.udid
    resp = client.get("/api/mdm/devices/999999/", headers=admin)
    assert resp.status_code == 404 and resp.json == {"detail": "No EnrolledDevice matches the given query."}


def test_block_then_unblock(client, admin, make_device):
    d = make_device()
    before = client.get(f"/api/mdm/devices/{d.id}/", headers=admin).json["updated_at"]
    resp = client.post(f"/api/mdm/devices/{d.id}/block/", headers=admin)
    assert resp.status_code == 200 and resp.json["blocked_at"] is not None
    assert resp.json["updated_at"] > before  # the new value, as Zentral answers after refresh_from_db
    assert client.get(f"/api/mdm/devices/{d.id}/", headers=admin).json["updated_at"] == resp.json["updated_at"]
    again = client.post(f"/api/mdm/devices/{d.id}/block/", headers=admin)
    assert again.status_code == 400 and again.json == {"detail": "Device already blocked."}
    resp = client.post(f"/api/mdm/devices/{d.id}/unblock/", headers=admin)
    assert resp.status_code == 200 and resp.json["blocked_at"] is None
    assert client.get(f"/api/mdm/devices/{d.id}/", headers=admin).json["updated_at"] == resp.json["updated_at"]
    again = client.post(f"/api/mdm/devices/{d.id}/unblock/", headers=admin)
    assert again.status_code == 400 and again.json == {"detail": "Device not blocked."}


def test_block_ignores_a_body(client, admin, make_device):
    d = make_device()
    resp = client.post(f"/api/mdm/devices/{d.id}/block/", headers=admin, json={"reason": "lost"})
    assert resp.status_code == 200


def test_recovery_password_escrowed_follows_the_secret(client, admin, make_device, runtime):
    from espalier.models import EnrolledDevice

    d = make_device()
    assert client.get(f"/api/mdm/devices/{d.id}/", headers=admin).json["recovery_password_escrowed"] is False
    with runtime.db.session() as s, s.begin():
        runtime.secrets.seal(s.get(EnrolledDevice, d.id), "recovery_password", "secret")
    assert client.get(f"/api/mdm/devices/{d.id}/", headers=admin).json["recovery_password_escrowed"] is True


def test_secrets_are_encrypted_at_rest_and_revealed_with_permission(client, runtime, make_token, make_device):
    from espalier.models import EnrolledDevice

    d = make_device()
    with runtime.db.session() as s, s.begin():
        device = s.get(EnrolledDevice, d.id)
        runtime.secrets.seal(device, "filevault_prk", "ABCD-EFGH-IJKL-MNOP-QRST-UVWX")
        runtime.secrets.seal(device, "recovery_password", "hunter2hunter2")
    with runtime.db.session() as s:
        raw = s.get(EnrolledDevice, d.id)
        assert "ABCD" not in raw.filevault_prk and raw.filevault_prk.startswith("v2:")
    headers = make_token("mdm.view_filevault_prk", "mdm.view_recovery_password")
    resp = client.get(f"/api/mdm/devices/{d.id}/filevault_prk/", headers=headers)
    assert resp.json == {"id": d.id, "serial_number": d.serial_number, "filevault_prk": "ABCD-EFGH-IJKL-MNOP-QRST-UVWX"}
    resp = client.get(f"/api/mdm/devices/{d.id}/recovery_password/", headers=headers)
    assert resp.json["recovery_password"] == "hunter2hunter2"
    listing = client.get("/api/mdm/devices/", headers=make_token("mdm.view_enrolleddevice")).json[0]
    assert listing["filevault_prk_escrowed"] is True
    assert client.get(f"/api/mdm/devices/{d.id}/filevault_prk/",
                      headers=make_token("mdm.view_enrolleddevice")).status_code == 403


def test_secret_not_escrowed_is_null(client, admin, make_device):
    d = make_device()
    assert client.get(f"/api/mdm/devices/{d.id}/filevault_prk/", headers=admin).json["filevault_prk"] is None


def test_a_serial_blocked_before_enrollment_cannot_get_a_profile(client, admin, make_token, enrollment):
    resp = client.post("/api/mdm/blocked_devices/", headers=admin, json={"serial_number": "c02abc", "reason": "stolen"})
    assert resp.status_code == 201 and resp.json["serial_number"] == "C02ABC"
    again = client.post("/api/mdm/blocked_devices/", headers=admin, json={"serial_number": "C02ABC"})
    assert again.status_code == 200 and again.json["id"] == resp.json["id"]
    profile = client.get(f"/public/enroll/{enrollment['secret']}/?unsigned=1&serial_number=C02ABC")
    assert profile.status_code == 403
    assert client.get("/api/mdm/blocked_devices/?serial_number=c02abc", headers=admin).json[0]["reason"] == "stolen"
    assert client.post("/api/mdm/blocked_devices/", headers=admin, json={}).json == {
        "non_field_errors": ["Give a serial_number or a udid."]}
    viewer = make_token(role="viewer")
    assert client.post("/api/mdm/blocked_devices/", headers=viewer, json={"udid": "x"}).status_code == 403
    assert client.delete(f"/api/mdm/blocked_devices/{resp.json['id']}/", headers=admin).status_code == 204
    assert client.get(f"/public/enroll/{enrollment['secret']}/?unsigned=1&serial_number=C02ABC").status_code == 200


def test_token_info_says_who_and_what(client, make_token):
    headers = make_token("mdm.view_enrolleddevice", "mdm.add_devicecommand")
    info = client.get("/api/token_info/", headers=headers).json
    assert info["permissions"] == ["mdm.add_devicecommand", "mdm.view_enrolleddevice"]
    assert info["token_prefix"] == headers["Authorization"].split()[1][:8] and info["user"].startswith("user")


def test_release_is_gated_audited_documented_and_idempotent(client, make_token, admin, make_device, caplog):
    """Issue 9: a released device's UDID may be enrolled again by another certificate."""
    import logging

    d = make_device(serial_number="C02REL00001")
    viewer = make_token("mdm.view_enrolleddevice")
    assert client.post(f"/api/mdm/devices/{d.id}/release/", headers=viewer).status_code == 403
    assert client.get(f"/api/mdm/devices/{d.id}/", headers=admin).json["released_at"] is None
    with caplog.at_level(logging.INFO, logger="espalier.audit"):
        resp = client.post(f"/api/mdm/devices/{d.id}/release/", headers=admin)
    assert resp.status_code == 200 and resp.json["released_at"]
    [record] = [r for r in caplog.records if r.name == "espalier.audit"]
    assert "device_released" in record.getMessage() and "C02REL00001" in record.getMessage()
    events = client.get(f"/api/mdm/audit_events/?enrolled_device={d.id}", headers=admin).json
    assert [(e["action"], e["object_id"], e["details"]["serial_number"]) for e in events] == [
        ("device_released", str(d.id), "C02REL00001")]
    again = client.post(f"/api/mdm/devices/{d.id}/release/", headers=admin)
    assert again.json["released_at"] == resp.json["released_at"]
    doc = client.get("/api/openapi.json").json
    op = doc["paths"]["/api/mdm/devices/{device_id}/release/"]["post"]
    assert {"200", "401", "403", "404"} <= set(op["responses"])
    assert "released_at" in doc["components"]["schemas"]["Device"]["properties"]
