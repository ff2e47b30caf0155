"""The /api/mdm/dep/ contract: Zentral's fields, filters, permissions, the sync_devices answer."""
from __future__ import annotations

from fakes.abm import FakeABM

from espalier.models import DEPDevice, DEPVirtualServer
from espalier.services import dep_devices

VS_FIELDS = ["id", "name", "uuid", "default_enrollment", "created_at", "updated_at"]
DEVICE_FIELDS = ["id", "virtual_server", "serial_number", "asset_tag", "color", "description", "device_family",
                 "model", "os", "device_assigned_by", "device_assigned_date", "last_op_type", "last_op_date",
                 "profile_status", "profile_uuid", "profile_assign_time", "profile_push_time", "enrollment",
                 "disowned_at", "created_at", "updated_at"]


def setup_server(client, admin, fake) -> int:
    resp = client.post("/api/mdm/dep/tokens/", headers=admin)
    assert resp.status_code == 201, resp.json
    assert resp.json["certificate"].startswith("-----BEGIN CERTIFICATE-----") and resp.json["virtual_server"] is None
    p7m = fake.server_token_p7m(resp.json["certificate"]).decode()
    up = client.post(f"/api/mdm/dep/tokens/{resp.json['id']}/upload/", headers=admin, json={"token": p7m})
    assert up.status_code == 200, up.json
    assert list(up.json) == VS_FIELDS and up.json["uuid"] == fake.account["server_uuid"]
    return up.json["id"]


def test_virtual_servers_list_detail_and_permissions(client, admin, make_token, fake):
    assert client.get("/api/mdm/dep/virtual_servers/").status_code == 401
    assert client.get("/api/mdm/dep/virtual_servers/", headers=make_token()).status_code == 403
    server_id = setup_server(client, admin, fake)
    viewer = make_token("mdm.view_depvirtualserver")
    resp = client.get("/api/mdm/dep/virtual_servers/", headers=viewer)
    assert resp.status_code == 200
    assert resp.json["count"] == 1 and resp.json["previous"] is None and list(resp.json["results"][0]) == VS_FIELDS
    assert client.get("/api/mdm/dep/virtual_servers/?name=nope", headers=viewer).json["results"] == []
    named = client.get(f"/api/mdm/dep/virtual_servers/?name={fake.account['server_name']}", headers=viewer)
    assert named.json["count"] == 1
    detail = client.get(f"/api/mdm/dep/virtual_servers/{server_id}/", headers=viewer)
    assert detail.status_code == 200 and detail.json["id"] == server_id
    assert client.get("/api/mdm/dep/virtual_servers/999/", headers=viewer).status_code == 404
    # tokens need add/change, not view
    assert client.post("/api/mdm/dep/tokens/", headers=viewer).status_code == 403
    assert client.post(f"/api/mdm/dep/virtual_servers/{server_id}/renew_token/", headers=viewer).status_code == 403


def test_sync_devices_answer_and_the_running_task(client, admin, make_token, runtime, fake):
    server_id = setup_server(client, admin, fake)
    viewer = make_token("mdm.view_depvirtualserver")
    resp = client.post(f"/api/mdm/dep/virtual_servers/{server_id}/sync_devices/", headers=viewer)
    assert resp.status_code == 201 and list(resp.json) == ["task_id", "task_result_url"]
    assert resp.json["task_result_url"] == f"/api/task_result/{resp.json['task_id']}/"
    result = client.get(resp.json["task_result_url"], headers=viewer).json
    assert result["status"] == "SUCCESS" and result["result"]["added"] == 25
    # a sync held by a running task: the second request answers it
    with runtime.db.session() as s, s.begin():
        running, _ = dep_devices.start_sync(s, type(runtime.queue)(), server_id)
    again = client.post(f"/api/mdm/dep/virtual_servers/{server_id}/sync_devices/?full_sync", headers=viewer)
    assert again.status_code == 201 and again.json["task_id"] == running
    assert client.post("/api/mdm/dep/virtual_servers/999/sync_devices/", headers=viewer).status_code == 404
    assert client.post(f"/api/mdm/dep/virtual_servers/{server_id}/sync_devices/",
                       headers=make_token("mdm.view_depdevice")).status_code == 403


def test_dep_devices_fields_filters_ordering(client, admin, make_token, runtime, fake):
    server_id = setup_server(client, admin, fake)
    client.post(f"/api/mdm/dep/virtual_servers/{server_id}/sync_devices/", headers=admin)
    viewer = make_token("mdm.view_depdevice")
    assert client.get("/api/mdm/dep/devices/", headers=make_token("mdm.view_depvirtualserver")).status_code == 403
    page = client.get("/api/mdm/dep/devices/", headers=viewer).json
    assert page["count"] == 25 and len(page["results"]) == 25 and list(page["results"][0]) == DEVICE_FIELDS
    first = page["results"][0]
    assert first["virtual_server"] == server_id and first["os"] == "OSX" and first["enrollment"] is None
    assert first["device_assigned_date"] == "2024-01-01T00:00:00"
    one = client.get("/api/mdm/dep/devices/?serial_number=FAKE00000003", headers=viewer).json
    assert one["count"] == 1 and one["results"][0]["serial_number"] == "FAKE00000003"
    assert client.get("/api/mdm/dep/devices/?device_family=iPad", headers=viewer).json["count"] == 0
    assert client.get(f"/api/mdm/dep/devices/?virtual_server={server_id}&limit=10", headers=viewer).json["next"]
    assert client.get("/api/mdm/dep/devices/?profile_status=empty", headers=viewer).json["count"] == 25
    assert client.get("/api/mdm/dep/devices/?virtual_server=abc", headers=viewer).status_code == 400
    assert client.get("/api/mdm/dep/devices/?ordering=serial_number", headers=viewer).status_code == 400
    ordered = client.get("/api/mdm/dep/devices/?ordering=created_at&limit=1000", headers=viewer).json
    assert len(ordered["results"]) == 25
    detail = client.get(f"/api/mdm/dep/devices/{first['id']}/", headers=viewer)
    assert detail.status_code == 200 and detail.json == first
    assert client.get("/api/mdm/dep/devices/99999/", headers=viewer).status_code == 404


def test_disown(client, admin, make_token, runtime, fake):
    server_id = setup_server(client, admin, fake)
    client.post(f"/api/mdm/dep/virtual_servers/{server_id}/sync_devices/", headers=admin)
    with runtime.db.session() as s:
        device_id = s.query(DEPDevice.id).filter(DEPDevice.serial_number == "FAKE00000002").scalar()
    operator = make_token(role="operator")
    assert client.post(f"/api/mdm/dep/devices/{device_id}/disown/", headers=operator).status_code == 403
    resp = client.post(f"/api/mdm/dep/devices/{device_id}/disown/", headers=make_token("mdm.disown_depdevice"))
    assert resp.status_code == 200 and resp.json == {"result": "SUCCESS"}
    assert "FAKE00000002" not in fake.devices
    assert client.get(f"/api/mdm/dep/devices/{device_id}/", headers=admin).json["disowned_at"]
    again = client.post(f"/api/mdm/dep/devices/{device_id}/disown/", headers=admin)
    assert again.json == {"result": "NOT_ACCESSIBLE"}


def test_token_upload_errors_and_renewal(client, admin, make_token, runtime, fake):
    server_id = setup_server(client, admin, fake)
    token = client.post("/api/mdm/dep/tokens/", headers=admin).json
    bad = client.post(f"/api/mdm/dep/tokens/{token['id']}/upload/", headers=admin, json={"token": "garbage"})
    assert bad.status_code == 400 and "token" in bad.json
    other = client.post("/api/mdm/dep/tokens/", headers=admin).json
    wrong = fake.server_token_p7m(other["certificate"]).decode()
    resp = client.post(f"/api/mdm/dep/tokens/{token['id']}/upload/", headers=admin, json={"token": wrong})
    assert resp.status_code == 400 and "cannot be opened" in resp.json["token"][0]
    renewal = client.post(f"/api/mdm/dep/virtual_servers/{server_id}/renew_token/", headers=admin)
    assert renewal.status_code == 201 and renewal.json["virtual_server"] == server_id
    with FakeABM(server_name="Other") as another:
        p7m = another.server_token_p7m(renewal.json["certificate"]).decode()
        refused = client.post(f"/api/mdm/dep/tokens/{renewal.json['id']}/upload/", headers=admin, json={"token": p7m})
    assert refused.status_code in (400, 409)  # another server's token: refused either way (Apple or us)
    p7m = fake.server_token_p7m(renewal.json["certificate"]).decode()
    adder = make_token("mdm.view_depvirtualserver", "mdm.add_depvirtualserver")
    assert client.post(f"/api/mdm/dep/tokens/{renewal.json['id']}/upload/", headers=adder,
                       json={"token": p7m}).status_code == 403  # a renewal needs change
    ok = client.post(f"/api/mdm/dep/tokens/{renewal.json['id']}/upload/", headers=admin, json={"token": p7m})
    assert ok.status_code == 200 and ok.json["id"] == server_id
    detail = client.get(f"/api/mdm/dep/tokens/{renewal.json['id']}/", headers=admin).json
    assert detail["expiring"] is False and detail["days_left"] >= 360 and "access_secret" not in detail
    with runtime.db.session() as s:
        assert s.query(DEPVirtualServer).count() == 1
