"""Erase and lock rules per platform, the queue endpoints, and bad bodies."""
from __future__ import annotations

import pytest

COMMAND_FIELDS = ["id", "uuid", "enrolled_device", "name", "artifact_version", "artifact_operation", "not_before",
                  "time", "result", "result_time", "status", "error_chain", "created_at", "updated_at"]

IPHONE = dict(platform="iOS", model="iPhone15,2", apple_silicon=None)
APPLE_SILICON_MAC = dict(platform="macOS", apple_silicon=True)
T2_MAC = dict(platform="macOS", apple_silicon=False, pin_required_for_erase=False, model="MacBookPro16,1")
T1_MAC = dict(platform="macOS", apple_silicon=False, pin_required_for_erase=True, model="MacBookPro14,1")
UNKNOWN_INTEL_MAC = dict(platform="macOS", apple_silicon=False, pin_required_for_erase=None)


@pytest.fixture
def pushed(monkeypatch, runtime):
    """Record the notify calls (the one place commands ask for a push)."""
    calls = []
    from espalier.tasks import push

    runtime.queue.push_enabled = True
    monkeypatch.setattr(push, "notify_devices", lambda rt, ids: calls.append(list(ids)))
    return calls


@pytest.mark.parametrize("device, body", [
    (IPHONE, {"disallow_proximity_setup": True, "preserve_data_plan": False}),
    (APPLE_SILICON_MAC, {}),
    (T2_MAC, {}),
    (T1_MAC, {"pin": "123456"}),
    (UNKNOWN_INTEL_MAC, {"pin": "654321"}),
])
def test_erase_accepted(client, admin, make_device, pushed, device, body):
    d = make_device(**device)
    resp = client.post(f"/api/mdm/devices/{d.id}/erase/", headers=admin, json=body)
    assert resp.status_code == 201, resp.json
    assert list(resp.json) == COMMAND_FIELDS
    assert resp.json["name"] == "EraseDevice" and resp.json["status"] is None
    assert resp.json["enrolled_device"] == d.id
    assert pushed == [[d.id]]


@pytest.mark.parametrize("device, body, errors", [
    (IPHONE, {}, {"disallow_proximity_setup": ["required on iOS"], "preserve_data_plan": ["required on iOS"]}),
    (IPHONE, {"disallow_proximity_setup": "yes", "preserve_data_plan": True, "pin": "123456"},
     {"disallow_proximity_setup": ["must be a boolean"], "pin": ["cannot be set on iOS"]}),
    (APPLE_SILICON_MAC, {"pin": "123456"}, {"pin": ["cannot be set on an Apple silicon or T2 Mac"]}),
    (T2_MAC, {"preserve_data_plan": True}, {"preserve_data_plan": ["only for iOS and iPadOS"]}),
    (T1_MAC, {}, {"pin": ["required on this Mac (6 digits)"]}),
    (T1_MAC, {"pin": "12345"}, {"pin": ["must be 6 digits"]}),
    (T1_MAC, {"pin": 123456}, {"pin": ["must be 6 digits"]}),
])
def test_erase_refused_naming_each_bad_field(client, admin, make_device, pushed, device, body, errors):
    d = make_device(**device)
    resp = client.post(f"/api/mdm/devices/{d.id}/erase/", headers=admin, json=body)
    assert resp.status_code == 400
    assert resp.json["errors"] == errors
    for field in errors:
        assert field in resp.json["detail"]
    assert pushed == []


def test_erase_refused_on_user_enrollment(client, admin, make_device):
    d = make_device(**IPHONE, user_enrollment=True)
    resp = client.post(f"/api/mdm/devices/{d.id}/erase/", headers=admin,
                       json={"disallow_proximity_setup": True, "preserve_data_plan": True})
    assert resp.status_code == 400 and "user enrollments" in resp.json["detail"]


@pytest.mark.parametrize("device, body", [
    (APPLE_SILICON_MAC, {"pin": "012345", "message": "This device is locked!", "phone_number": "+49000000000"}),
    (T1_MAC, {"pin": "000000"}),
    (IPHONE, {"message": "Call me", "phone_number": "+1 555 0100"}),
    (IPHONE, {}),
])
def test_lock_accepted(client, admin, make_device, pushed, device, body):
    d = make_device(**device)
    resp = client.post(f"/api/mdm/devices/{d.id}/lock/", headers=admin, json=body)
    assert resp.status_code == 201, resp.json
    assert resp.json["name"] == "DeviceLock"
    assert pushed == [[d.id]]


@pytest.mark.parametrize("device, body, errors", [
    (APPLE_SILICON_MAC, {}, {"pin": ["required on macOS (6 digits)"]}),
    (APPLE_SILICON_MAC, {"pin": "abcdef"}, {"pin": ["must be 6 digits"]}),
    (IPHONE, {"pin": "123456"}, {"pin": ["cannot be set on iOS"]}),
    (IPHONE, {"message": "x" * 256, "phone_number": "+1" * 8},
     {"message": ["at most 255 characters"], "phone_number": ["at most 15 characters"]}),
    (IPHONE, {"message": 12}, {"message": ["must be a string"]}),
])
def test_lock_refused_naming_each_bad_field(client, admin, make_device, pushed, device, body, errors):
    d = make_device(**device)
    resp = client.post(f"/api/mdm/devices/{d.id}/lock/", headers=admin, json=body)
    assert resp.status_code == 400
    assert resp.json["errors"] == errors
    assert pushed == []


@pytest.mark.parametrize("raw, content_type, detail", [
    (b"{not json", "application/json", "malformed JSON body"),
    (b"[1, 2]", "application/json", "the JSON body must be an object"),
    (b'{"pin": "123456", "colour": "red"}', "application/json", "unknown field(s): colour"),
    (b"\xff\xfe\x00garbage", "application/octet-stream", "malformed JSON body"),
])
def test_bad_bodies_are_400_never_500(client, admin, make_device, raw, content_type, detail):
    d = make_device()
    resp = client.post(f"/api/mdm/devices/{d.id}/lock/", headers={**admin, "Content-Type": content_type}, data=raw)
    assert resp.status_code == 400
    assert resp.json["detail"] == detail


def test_command_arguments_are_encrypted_at_rest(client, runtime, admin, make_device, pushed):
    from espalier.models import DeviceCommand

    d = make_device(**T1_MAC)
    uuid = client.post(f"/api/mdm/devices/{d.id}/lock/", headers=admin, json={"pin": "918273"}).json["uuid"]
    with runtime.db.session() as s:
        from sqlalchemy import select
        row = s.scalar(select(DeviceCommand).where(DeviceCommand.uuid == uuid))
    assert "918273" not in row.arguments


def test_command_queue_listing_and_detail(client, admin, make_device, pushed):
    a, b = make_device(), make_device(**IPHONE)
    first = client.post(f"/api/mdm/devices/{a.id}/lock/", headers=admin, json={"pin": "123456"}).json
    client.post(f"/api/mdm/devices/{b.id}/lock/", headers=admin, json={})
    listing = client.get(f"/api/mdm/devices/commands/?enrolled_device={a.id}", headers=admin).json
    assert [c["uuid"] for c in listing] == [first["uuid"]]
    assert len(client.get("/api/mdm/devices/commands/?status=pending", headers=admin).json) == 2
    assert client.get("/api/mdm/devices/commands/?status=Acknowledged", headers=admin).json == []
    page = client.get("/api/mdm/devices/commands/?limit=1", headers=admin).json
    assert page["count"] == 2 and len(page["results"]) == 1
    detail = client.get(f"/api/mdm/devices/commands/{first['uuid']}/", headers=admin)
    assert detail.json == first
    assert client.get("/api/mdm/devices/commands/nope/", headers=admin).status_code == 404
    bad = client.get("/api/mdm/devices/commands/?status=Done", headers=admin)
    assert bad.status_code == 400 and "status" in bad.json["errors"]


def test_erase_unknown_device_is_404(client, admin):
    assert client.post("/api/mdm/devices/424242/erase/", headers=admin, json={}).status_code == 404


@pytest.mark.parametrize("name", ["ProfileList", "CertificateList", "InstalledApplicationList"])
def test_generic_endpoint_queues_list_commands(client, admin, make_device, pushed, name):
    d = make_device()
    resp = client.post(f"/api/mdm/devices/{d.id}/commands/", headers=admin,
                       json={"name": name, "arguments": {"managed_only": True}})
    assert resp.status_code == 201 and resp.json["name"] == name
    bad = client.post(f"/api/mdm/devices/{d.id}/commands/", headers=admin,
                      json={"name": name, "arguments": {"managed_only": "yes"}})
    assert bad.status_code == 400 and bad.json["errors"] == {"managed_only": ["must be a boolean"]}


def test_generic_endpoint_refuses_unknown_commands(client, admin, make_device):
    d = make_device()
    resp = client.post(f"/api/mdm/devices/{d.id}/commands/", headers=admin, json={"name": "Teleport"})
    assert resp.status_code == 400 and resp.json["errors"] == {"name": ["unknown command"]}
    assert "DeviceLock" in resp.json["detail"]
