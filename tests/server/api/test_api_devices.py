"""/api/mdm/devices/: list, filters, pages, detail, block/unblock, secrets."""
from __future__ import annotations


DEVICE_FIELDS = ["id", "udid", "serial_number", "name", "model", "platform", "os_version", "build_version",
                 "apple_silicon", "cert_not_valid_after", "blueprint", "awaiting_configuration",
                 "declarative_management", "dep_enrollment", "user_enrollment", "user_approved_enrollment",
                 "supervised", "bootstrap_token_escrowed", "filevault_enabled", "filevault_prk_escrowed",
                 "activation_lock_manageable", "last_seen_at", "last_notified_at", "checkout_at", "blocked_at",
                 "created_at", "updated_at"]


def test_list_is_a_plain_list_with_every_documented_field(client, admin, make_device):
    make_device()
    resp = client.get("/api/mdm/devices/", headers=admin)
    assert resp.status_code == 200
    assert isinstance(resp.json, list)
    assert list(resp.json[0].keys()) == DEVICE_FIELDS
    assert resp.json[0]["created_at"][:4].isdigit() and "T" in resp.json[0]["created_at"]


def test_filters_by_serial_number_and_udid(client, admin, make_device):
    a, b = make_device(), make_device()
    resp = client.get(f"/api/mdm/devices/?serial_number={b.serial_number}", headers=admin)
    assert [d["id"] for d in resp.json] == [b.id]
    resp = client.get(f"/api/mdm/devices/?udid={a.udid}", headers=admin)
    assert [d["id"] for d in resp.json] == [a.id]
    assert client.get("/api/mdm/devices/?serial_number=NOPE", headers=admin).json == []


def test_limit_offset_pages(client, admin, make_device):
    ids = [make_device().id for _ in range(5)]
    page = client.get("/api/mdm/devices/?limit=2", headers=admin).json
    assert page["count"] == 5 and [d["id"] for d in page["results"]] == ids[:2]
    assert page["previous"] is None and "offset=2" in page["next"]
    page = client.get("/api/mdm/devices/?limit=2&offset=4", headers=admin).json
    assert [d["id"] for d in page["results"]] == ids[4:] and page["next"] is None
    assert "offset=2" in page["previous"]


def test_bad_query_parameters_are_400(client, admin):
    for query in ("limit=abc", "limit=0", "offset=-1", "limit=100000", "colour=red"):
        resp = client.get(f"/api/mdm/devices/?{query}", headers=admin)
        assert resp.status_code == 400, query
        assert resp.json["detail"]


def test_detail_and_404(client, admin, make_device):
    d = make_device()
    assert client.get(f"/api/mdm/devices/{d.id}/", headers=admin).json["udid"] == d.udid
    resp = client.get("/api/mdm/devices/999999/", headers=admin)
    assert resp.status_code == 404 and resp.json["detail"] == "no enrolled device 999999"


def test_block_then_unblock(client, admin, make_device):
    d = make_device()
    resp = client.post(f"/api/mdm/devices/{d.id}/block/", headers=admin)
    assert resp.status_code == 200 and resp.json["blocked_at"] is not None
    again = client.post(f"/api/mdm/devices/{d.id}/block/", headers=admin)
    assert again.status_code == 400 and again.json["detail"] == f"device {d.id} is already blocked"
    resp = client.post(f"/api/mdm/devices/{d.id}/unblock/", headers=admin)
    assert resp.status_code == 200 and resp.json["blocked_at"] is None
    again = client.post(f"/api/mdm/devices/{d.id}/unblock/", headers=admin)
    assert again.status_code == 400 and again.json["detail"] == f"device {d.id} is not blocked"


def test_block_rejects_a_body_with_fields(client, admin, make_device):
    d = make_device()
    resp = client.post(f"/api/mdm/devices/{d.id}/block/", headers=admin, json={"reason": "lost"})
    assert resp.status_code == 400 and resp.json["errors"] == {"reason": ["unknown field"]}


def test_blocked_device_gets_no_commands(client, admin, make_device):
    d = make_device(blocked_at=__import__("datetime").datetime(2024, 1, 1))
    resp = client.post(f"/api/mdm/devices/{d.id}/lock/", headers=admin, json={"pin": "123456"})
    assert resp.status_code == 400 and "blocked" in resp.json["detail"]


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
