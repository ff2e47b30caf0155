"""Erase, lock and custom commands as Zentral's API answers them (its test cases, rewritten).

Zentral: fields that do not apply to the device are ignored; the ones that do are DRF
fields with DRF's texts; a command that does not apply to the device is ``Invalid target.``.
Where Zentral is wrong (a PIN rule that matches anywhere in the value) we are strict, and
the README's compatibility table says so.
"""
from __future__ import annotations

import plistlib

import pytest
from sqlalchemy import select

from espalier.mdm import commands
from espalier.mdm.queue import command_arguments
from espalier.models import DeviceCommand

COMMAND_FIELDS = ["id", "uuid", "enrolled_device", "name", "artifact_version", "artifact_operation", "not_before",
                  "time", "result", "result_time", "status", "error_chain", "created_at", "updated_at",
                  "request_hash"]  # the last one is Espalier's

IPHONE = dict(platform="iOS", model="iPhone15,2", apple_silicon=None)
APPLE_SILICON_MAC = dict(platform="macOS", apple_silicon=True)
T2_MAC = dict(platform="macOS", apple_silicon=False, activation_lock_manageable=True, model="MacBookPro16,1")
T1_MAC = dict(platform="macOS", apple_silicon=False, activation_lock_manageable=False, model="MacBookPro14,1")
UNKNOWN_MAC = dict(platform="macOS", apple_silicon=None, activation_lock_manageable=None)
REPORTED_NO_PIN = dict(platform="macOS", apple_silicon=False, pin_required_for_erase=False, model="MacBookPro16,1")
TV = dict(platform="tvOS", model="AppleTV11,1", apple_silicon=None)


@pytest.fixture
def pushed(monkeypatch, runtime):
    """Record the notify calls (the one place commands ask for a push)."""
    calls = []
    from espalier.tasks import push

    runtime.queue.push_enabled = True
    monkeypatch.setattr(push, "notify_devices", lambda rt, ids: calls.append(list(ids)))
    return calls


def _sent(runtime, uuid: str) -> dict:
    """The Command dictionary the device will get."""
    with runtime.db.session() as s:
        row = s.scalar(select(DeviceCommand).where(DeviceCommand.uuid == uuid))
        from espalier.models import EnrolledDevice

        device = s.get(EnrolledDevice, row.enrolled_device_id)
        return commands.get(row.name).payload(device, command_arguments(runtime.secrets, row))


@pytest.mark.parametrize("device, body, sent", [
    (APPLE_SILICON_MAC, {}, {}),
    (APPLE_SILICON_MAC, {"pin": "123456", "preserve_data_plan": True}, {}),  # does not apply: ignored
    (T2_MAC, {}, {}),
    (REPORTED_NO_PIN, {}, {}),  # what the Mac reported wins over Zentral's guess
    (T1_MAC, {"pin": "ABC123"}, {"PIN": "ABC123"}),
    (UNKNOWN_MAC, {"pin": "654321"}, {"PIN": "654321"}),  # Zentral's rule when nothing is known
    (IPHONE, {"disallow_proximity_setup": True, "preserve_data_plan": "false", "pin": "x"},
     {"DisallowProximitySetup": True, "PreserveDataPlan": False}),
    (IPHONE, {"disallow_proximity_setup": 1, "preserve_data_plan": "yes"},
     {"DisallowProximitySetup": True, "PreserveDataPlan": True}),
    (TV, {"pin": "123456"}, {}),
])
def test_erase_accepted(client, admin, make_device, pushed, runtime, device, body, sent):
    d = make_device(**device)
    resp = client.post(f"/api/mdm/devices/{d.id}/erase/", headers=admin, json=body)
    assert resp.status_code == 201, resp.json
    assert list(resp.json) == COMMAND_FIELDS
    assert resp.json["name"] == "EraseDevice" and resp.json["status"] is None
    assert resp.json["enrolled_device"] == d.id
    assert _sent(runtime, resp.json["uuid"]) == {"RequestType": "EraseDevice", **sent}
    assert pushed == [[d.id]]


@pytest.mark.parametrize("device, body, errors", [
    (IPHONE, {}, {"disallow_proximity_setup": ["This field is required."],
                  "preserve_data_plan": ["This field is required."]}),
    (IPHONE, {"disallow_proximity_setup": "maybe", "preserve_data_plan": None},
     {"disallow_proximity_setup": ["Must be a valid boolean."], "preserve_data_plan": ["This field may not be null."]}),
    (T1_MAC, {}, {"pin": ["This field is required."]}),
    (T1_MAC, {"pin": "!)="}, {"pin": ["This value does not match the required pattern."]}),
    (T1_MAC, {"pin": "0123456"}, {"pin": ["This value does not match the required pattern."]}),  # Zentral: 201
])
def test_erase_refused_as_drf_would(client, admin, make_device, pushed, device, body, errors):
    d = make_device(**device)
    resp = client.post(f"/api/mdm/devices/{d.id}/erase/", headers=admin, json=body)
    assert resp.status_code == 400
    assert resp.json == errors
    assert pushed == []


@pytest.mark.parametrize("device, body, sent", [
    (APPLE_SILICON_MAC, {"pin": "012345", "message": "This device is locked!", "phone_number": "+49000000000"},
     {"PIN": "012345", "Message": "This device is locked!", "PhoneNumber": "+49000000000"}),
    (T1_MAC, {"pin": 123456}, {"PIN": "123456"}),  # a CharField reads numbers as text
    (IPHONE, {"message": "Yolo", "phone_number": 123}, {"Message": "Yolo", "PhoneNumber": "123"}),
    (IPHONE, {}, {}),
    (IPHONE, {"pin": "123456"}, {}),  # not for iOS: ignored
    (TV, {}, {}),
    (dict(platform="macOS", apple_silicon=True, pin_required_for_lock=False), {}, {}),
])
def test_lock_accepted(client, admin, make_device, pushed, runtime, device, body, sent):
    d = make_device(**device)
    resp = client.post(f"/api/mdm/devices/{d.id}/lock/", headers=admin, json=body)
    assert resp.status_code == 201, resp.json
    assert resp.json["name"] == "DeviceLock"
    assert _sent(runtime, resp.json["uuid"]) == {"RequestType": "DeviceLock", **sent}
    assert pushed == [[d.id]]


@pytest.mark.parametrize("device, body, errors", [
    (APPLE_SILICON_MAC, {}, {"pin": ["This field is required."]}),
    (APPLE_SILICON_MAC, {"pin": "!)="}, {"pin": ["This value does not match the required pattern."]}),
    (APPLE_SILICON_MAC, {"pin": "abcdef"}, {"pin": ["This value does not match the required pattern."]}),
    (IPHONE, {"message": "x" * 256, "phone_number": "+1" * 8},
     {"message": ["Ensure this field has no more than 255 characters."],
      "phone_number": ["Ensure this field has no more than 15 characters."]}),
    (IPHONE, {"message": ["a"]}, {"message": ["Not a valid string."]}),
    (IPHONE, {"message": ""}, {"message": ["This field may not be blank."]}),
])
def test_lock_refused_as_drf_would(client, admin, make_device, pushed, device, body, errors):
    d = make_device(**device)
    resp = client.post(f"/api/mdm/devices/{d.id}/lock/", headers=admin, json=body)
    assert resp.status_code == 400
    assert resp.json == errors
    assert pushed == []


def test_lock_on_a_user_enrolled_mac_is_an_invalid_target(client, admin, make_device):
    d = make_device(**APPLE_SILICON_MAC, user_enrollment=True)
    resp = client.post(f"/api/mdm/devices/{d.id}/lock/", headers=admin, json={"pin": "123456"})
    assert resp.status_code == 400 and resp.json == {"detail": "Invalid target."}
    ios = make_device(**IPHONE, user_enrollment=True)  # allowed on iOS user enrollments, as in Zentral
    assert client.post(f"/api/mdm/devices/{ios.id}/lock/", headers=admin, json={}).status_code == 201


def test_a_blocked_device_still_gets_commands_queued_but_no_push(client, admin, make_device, pushed, runtime):
    """Zentral queues them; the device was released and never fetches them."""
    from datetime import datetime

    d = make_device(**IPHONE, blocked_at=datetime(2024, 1, 1), push_token="ab" * 32, push_magic="m")
    resp = client.post(f"/api/mdm/devices/{d.id}/lock/", headers=admin, json={})
    assert resp.status_code == 201
    runtime.queue.push_enabled = True
    from espalier.tasks import push

    assert push.push(runtime, [d.id]).sent == []  # not pushable


@pytest.mark.parametrize("raw, content_type, answer", [
    (b"{not json", "application/json", "JSON parse error"),
    (b"[1, 2]", "application/json", {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
    (b"\xff\xfe\x00garbage", "application/octet-stream", "JSON parse error"),
])
def test_bad_bodies_are_400_never_500(client, admin, make_device, raw, content_type, answer):
    d = make_device()
    resp = client.post(f"/api/mdm/devices/{d.id}/lock/", headers={**admin, "Content-Type": content_type}, data=raw)
    assert resp.status_code == 400
    if isinstance(answer, dict):
        assert resp.json == answer
    else:
        assert resp.json["detail"].startswith(answer)


def test_unknown_body_fields_are_ignored(client, admin, make_device, pushed):
    d = make_device()
    resp = client.post(f"/api/mdm/devices/{d.id}/lock/", headers=admin, json={"pin": "123456", "colour": "red"})
    assert resp.status_code == 201


def test_command_arguments_are_encrypted_at_rest(client, runtime, admin, make_device, pushed):
    d = make_device(**T1_MAC)
    uuid = client.post(f"/api/mdm/devices/{d.id}/lock/", headers=admin, json={"pin": "918273"}).json["uuid"]
    with runtime.db.session() as s:
        row = s.scalar(select(DeviceCommand).where(DeviceCommand.uuid == uuid))
    assert "918273" not in row.arguments


@pytest.mark.parametrize("body, errors", [
    ({}, {"command": ["This field is required."]}),
    ({"command": ""}, {"command": ["This field may not be blank."]}),
    ({"command": "abc"}, {"command": ["Invalid property list"]}),
    ({"command": plistlib.dumps([1]).decode()}, {"command": ["Not a dictionary"]}),
    ({"command": plistlib.dumps({}).decode()}, {"command": ["Missing or empty RequestType"]}),
])
def test_send_custom_command_refusals(client, admin, make_device, body, errors):
    d = make_device()
    resp = client.post(f"/api/mdm/devices/{d.id}/send_custom_command/", headers=admin, json=body)
    assert resp.status_code == 400 and resp.json == errors


@pytest.mark.parametrize("command", [
    plistlib.dumps({"RequestType": "EnableRemoteDesktop"}).decode(),
    "<dict><key>RequestType</key><string>EnableRemoteDesktop</string></dict>",  # <plist> may be left out
])
def test_send_custom_command(client, admin, make_device, runtime, pushed, command):
    d = make_device()
    resp = client.post(f"/api/mdm/devices/{d.id}/send_custom_command/", headers=admin, json={"command": command})
    assert resp.status_code == 201, resp.json
    assert resp.json["name"] == "CustomCommand"
    assert _sent(runtime, resp.json["uuid"]) == {"RequestType": "EnableRemoteDesktop"}


def test_command_queue_listing_and_detail(client, admin, make_device, pushed):
    a, b = make_device(), make_device(**IPHONE)
    first = client.post(f"/api/mdm/devices/{a.id}/lock/", headers=admin, json={"pin": "123456"}).json
    client.post(f"/api/mdm/devices/{b.id}/lock/", headers=admin, json={})
    listing = client.get(f"/api/mdm/devices/commands/?enrolled_device={a.id}", headers=admin).json
    assert [c["uuid"] for c in listing] == [first["uuid"]]
    assert len(client.get("/api/mdm/devices/commands/?status=pending", headers=admin).json) == 2
    assert client.get("/api/mdm/devices/commands/?status=Acknowledged", headers=admin).json == []
    assert len(client.get("/api/mdm/devices/commands/?name=", headers=admin).json) == 2  # empty: ignored
    page = client.get("/api/mdm/devices/commands/?limit=1", headers=admin).json
    assert page["count"] == 2 and len(page["results"]) == 1
    detail = client.get(f"/api/mdm/devices/commands/{first['uuid']}/", headers=admin)
    assert detail.json == first
    missing = client.get("/api/mdm/devices/commands/nope/", headers=admin)
    assert missing.status_code == 404 and missing.json == {"detail": "No DeviceCommand matches the given query."}
    bad = client.get("/api/mdm/devices/commands/?status=Done", headers=admin)
    assert bad.status_code == 400 and bad.json == {"status": ['"Done" is not a valid choice.']}


def test_erase_unknown_device_is_404(client, admin):
    resp = client.post("/api/mdm/devices/424242/erase/", headers=admin, json={})
    assert resp.status_code == 404 and resp.json == {"detail": "No EnrolledDevice matches the given query."}


@pytest.mark.parametrize("name", ["ProfileList", "CertificateList", "InstalledApplicationList"])
def test_generic_endpoint_queues_list_commands(client, admin, make_device, pushed, runtime, name):
    d = make_device()
    resp = client.post(f"/api/mdm/devices/{d.id}/commands/", headers=admin,
                       json={"name": name, "arguments": {"managed_only": "true"}})
    assert resp.status_code == 201 and resp.json["name"] == name
    assert _sent(runtime, resp.json["uuid"]) == {"RequestType": name, "ManagedOnly": True}
    bad = client.post(f"/api/mdm/devices/{d.id}/commands/", headers=admin,
                      json={"name": name, "arguments": {"managed_only": "perhaps"}})
    assert bad.status_code == 400 and bad.json == {"managed_only": ["Must be a valid boolean."]}


def test_generic_endpoint_refuses_unknown_commands(client, admin, make_device):
    d = make_device()
    resp = client.post(f"/api/mdm/devices/{d.id}/commands/", headers=admin, json={"name": "Teleport"})
    assert resp.status_code == 400 and resp.json == {"name": ['"Teleport" is not a valid choice.']}
    resp = client.post(f"/api/mdm/devices/{d.id}/commands/", headers=admin, json={"arguments": []})
    assert resp.status_code == 400 and resp.json == {
        "name": ["This field is required."],
        "arguments": ['Expected a dictionary of items but got type "list".']}


def test_a_dry_run_checks_exactly_and_queues_nothing(client, admin, make_device, pushed, runtime):
    d = make_device(**T1_MAC)
    bad = client.post(f"/api/mdm/devices/{d.id}/erase/?dry_run=1", headers=admin, json={})
    assert bad.status_code == 400 and bad.json == {"pin": ["This field is required."]}  # the same 400
    dry = client.post(f"/api/mdm/devices/{d.id}/erase/?dry_run=true", headers=admin, json={"pin": "ABC123"})
    assert dry.status_code == 200 and dry.json["dry_run"] is True
    assert dry.json["command"]["name"] == "EraseDevice" and dry.json["command"]["enrolled_device"] == d.id
    assert client.get("/api/mdm/devices/commands/", headers=admin).json == [] and pushed == []
    real = client.post(f"/api/mdm/devices/{d.id}/erase/", headers=admin, json={"pin": "ABC123"}).json
    assert real["request_hash"] == dry.json["command"]["request_hash"]  # the same request
    other = client.post(f"/api/mdm/devices/{d.id}/erase/?dry_run=1", headers=admin, json={"pin": "XYZ789"}).json
    assert other["command"]["request_hash"] != real["request_hash"]
    assert "ABC123" not in str(real) and len(real["request_hash"]) == 64  # keyed: no way back to the PIN
    same = client.get(f"/api/mdm/devices/commands/?request_hash={real['request_hash']}", headers=admin).json
    assert [c["uuid"] for c in same] == [real["uuid"]]


def test_a_command_not_fetched_yet_can_be_withdrawn(client, admin, make_device, pushed, runtime):
    from espalier.models import utcnow

    d = make_device(**IPHONE)
    first = client.post(f"/api/mdm/devices/{d.id}/lock/", headers=admin, json={"message": "old"}).json
    resp = client.post(f"/api/mdm/devices/commands/{first['uuid']}/cancel/", headers=admin)
    assert resp.status_code == 200 and resp.json["status"] == "Canceled"
    again = client.post(f"/api/mdm/devices/commands/{first['uuid']}/cancel/", headers=admin)
    assert again.status_code == 409 and again.json == {"detail": "the command is already Canceled"}
    sent = client.post(f"/api/mdm/devices/{d.id}/lock/", headers=admin, json={}).json
    with runtime.db.session() as s, s.begin():
        s.scalar(select(DeviceCommand).where(DeviceCommand.uuid == sent["uuid"])).time = utcnow()
    fetched = client.post(f"/api/mdm/devices/commands/{sent['uuid']}/cancel/", headers=admin)
    assert fetched.status_code == 409 and "fetched" in fetched.json["detail"]
    pending = client.get("/api/mdm/devices/commands/?status=pending", headers=admin).json
    assert [c["uuid"] for c in pending] == [sent["uuid"]]  # the withdrawn one is not pending any more
