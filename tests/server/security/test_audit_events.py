"""Audit events: each reveal of an escrowed secret and each operator action on a device is a
stored event, listed by /api/mdm/audit_events/."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from espalier.models import ApiToken, AuditEvent, EnrolledDevice
from espalier.services import audit


@pytest.fixture
def escrowed(make_device, runtime):
    def make(**secrets):
        device = make_device()
        with runtime.db.session() as s, s.begin():
            row = s.get(EnrolledDevice, device.id)
            for field, value in secrets.items():
                runtime.secrets.seal(row, field, value)
        return device
    return make


def _events(runtime) -> int:
    with runtime.db.session() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent))


def test_each_reveal_is_a_stored_event_with_who_when_and_which_device(client, make_token, escrowed, runtime, admin):
    d = escrowed(filevault_prk="AAAA-BBBB", recovery_password="Sesame12")
    reader = make_token("mdm.view_filevault_prk", "mdm.view_recovery_password")
    for _ in range(2):
        assert client.get(f"/api/mdm/devices/{d.id}/filevault_prk/", headers=reader).json["filevault_prk"] == \
            "AAAA-BBBB"
    assert client.get(f"/api/mdm/devices/{d.id}/recovery_password/", headers=reader).json[
        "recovery_password"] == "Sesame12"
    events = client.get("/api/mdm/audit_events/", headers=admin).json
    assert [e["action"] for e in events] == ["recovery_password_viewed", "filevault_prk_viewed",
                                             "filevault_prk_viewed"]
    with runtime.db.session() as s:
        token = s.scalar(select(ApiToken).where(ApiToken.key_hash == _hash(reader)))
        user_id, username = token.user_id, token.user.username
        token_id = token.id
    e = events[0]
    assert set(e) == {"id", "action", "token_id", "user_id", "username", "object_type", "object_id", "details",
                      "created_at"}
    assert (e["token_id"], e["user_id"], e["username"], e["object_type"], e["object_id"]) == (
        token_id, user_id, username, "enrolleddevice", str(d.id))
    assert e["details"] == {"serial_number": d.serial_number, "udid": d.udid, "field": "recovery_password"}
    assert "Sesame12" not in str(events) and "AAAA-BBBB" not in str(events)


def _hash(headers) -> str:
    from espalier.services.auth import hash_key
    return hash_key(headers["Authorization"].split()[1])


def test_a_reveal_without_permission_is_403_and_writes_no_event(client, make_token, escrowed, runtime):
    d = escrowed(filevault_prk="AAAA-BBBB", recovery_password="Sesame12")
    wrong = make_token("mdm.view_enrolleddevice", "mdm.view_recovery_password")
    assert client.get(f"/api/mdm/devices/{d.id}/filevault_prk/", headers=wrong).status_code == 403
    assert client.get(f"/api/mdm/devices/{d.id}/recovery_password/",
                      headers=make_token("mdm.view_filevault_prk")).status_code == 403
    assert client.get(f"/api/mdm/devices/{d.id}/filevault_prk/").status_code == 401
    assert _events(runtime) == 0


def test_nothing_escrowed_nothing_revealed_no_event(client, admin, escrowed, runtime):
    d = escrowed()
    assert client.get(f"/api/mdm/devices/{d.id}/filevault_prk/", headers=admin).json["filevault_prk"] is None
    assert _events(runtime) == 0


def test_no_reveal_without_its_event(client, admin, escrowed, runtime, monkeypatch):
    d = escrowed(filevault_prk="AAAA-BBBB")

    def broken(*args, **kwargs):
        raise RuntimeError("the audit store is down")
    monkeypatch.setattr(audit, "record", broken)
    resp = client.get(f"/api/mdm/devices/{d.id}/filevault_prk/", headers=admin)
    assert resp.status_code == 500 and b"AAAA-BBBB" not in resp.data


def test_the_reveal_and_its_event_commit_together(client, admin, escrowed, runtime, monkeypatch):
    """The event is flushed in the reveal's transaction: a failure after it rolls both back."""
    d = escrowed(filevault_prk="AAAA-BBBB")
    real, seen = audit.record, []

    def then_fail(s, *args, **kwargs):
        real(s, *args, **kwargs)
        seen.append((s.in_transaction(), s.scalar(select(func.count()).select_from(AuditEvent))))
        raise RuntimeError("after the event")
    monkeypatch.setattr(audit, "record", then_fail)
    resp = client.get(f"/api/mdm/devices/{d.id}/filevault_prk/", headers=admin)
    assert resp.status_code == 500 and b"AAAA-BBBB" not in resp.data
    assert seen == [(True, 1)] and _events(runtime) == 0


def test_listing_filters_pages_and_permission(client, admin, make_token, escrowed):
    a = escrowed(filevault_prk="A", recovery_password="Sesame12")
    b = escrowed(filevault_prk="B")
    for device, field in ((a, "filevault_prk"), (a, "recovery_password"), (b, "filevault_prk")):
        assert client.get(f"/api/mdm/devices/{device.id}/{field}/", headers=admin).status_code == 200
    url = "/api/mdm/audit_events/"
    assert [e["object_id"] for e in client.get(url, headers=admin, query_string={"enrolled_device": a.id}).json] \
        == [str(a.id)] * 2
    assert [e["object_id"] for e in client.get(url, headers=admin, query_string={
        "enrolled_device": a.id, "action": "filevault_prk_viewed"}).json] == [str(a.id)]
    page = client.get(url, headers=admin, query_string={"limit": 2}).json
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"] and page["previous"] is None
    assert client.get(url, headers=admin, query_string={"enrolled_device": "x"}).json == {
        "enrolled_device": ["A valid integer is required."]}
    assert client.get(url, headers=make_token("mdm.view_enrolleddevice")).status_code == 403
    assert client.get(url, headers=make_token("mdm.view_auditevent")).status_code == 200
    assert client.get(url, headers=make_token(role="viewer")).status_code == 200


def _stored(runtime) -> list[tuple]:
    with runtime.db.session() as s:
        return [(e.action, e.object_type, e.object_id, e.token_id, e.username, e.details)
                for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_operator_actions_through_the_api_are_events_without_their_secrets(client, make_token, make_device, runtime,
                                                                          admin, caplog):
    import logging

    d = make_device(serial_number="C02AUD00001", platform="macOS")
    operator = make_token(role="admin")
    user = client.get("/api/token_info/", headers=operator).json["user"]
    base = f"/api/mdm/devices/{d.id}"
    with caplog.at_level(logging.INFO, logger="espalier.audit"):
        assert client.post(f"{base}/lock/?dry_run=1", headers=operator, json={"pin": "654321"}).status_code == 200
        lock = client.post(f"{base}/lock/", headers=operator, json={"pin": "123456", "message": "call IT"})
        assert lock.status_code == 201
        for action in ("block", "unblock", "release"):
            assert client.post(f"{base}/{action}/", headers=operator).status_code == 200
        entry = client.post("/api/mdm/blocked_devices/", headers=operator, json={"serial_number": "c02stolen1"})
        assert entry.status_code == 201
        assert client.post("/api/mdm/blocked_devices/", headers=operator,
                           json={"serial_number": "C02STOLEN1"}).status_code == 200  # there already: no event
        assert client.delete(f"/api/mdm/blocked_devices/{entry.json['id']}/", headers=operator).status_code == 204
    stored = _stored(runtime)
    device = {"serial_number": "C02AUD00001", "udid": d.udid}
    assert [row[:3] for row in stored] == [
        ("command_queued", "enrolleddevice", str(d.id)), ("device_blocked", "enrolleddevice", str(d.id)),
        ("device_unblocked", "enrolleddevice", str(d.id)), ("device_released", "enrolleddevice", str(d.id)),
        ("blocked_device_added", "blockeddevice", str(entry.json["id"])),
        ("blocked_device_removed", "blockeddevice", str(entry.json["id"]))]
    assert {row[4] for row in stored} == {user} and all(row[3] is not None for row in stored)
    assert stored[0][5] == {**device, "request_type": "DeviceLock", "command_uuid": lock.json["uuid"]}
    assert stored[4][5] == stored[5][5] == {"serial_number": "C02STOLEN1", "udid": None}
    lines = [r.getMessage() for r in caplog.records if r.name == "espalier.audit"]
    assert [line.split()[0] for line in lines] == [row[0] for row in stored]
    listed = client.get(f"/api/mdm/audit_events/?enrolled_device={d.id}", headers=admin).json
    assert [e["action"] for e in listed] == ["device_released", "device_unblocked", "device_blocked",
                                             "command_queued"]
    for text in (str(stored), str(listed), "\n".join(lines)):
        assert "123456" not in text and "654321" not in text and "call IT" not in text


def test_a_refused_action_records_nothing(client, admin, make_token, make_device, runtime):
    d = make_device(platform="macOS")
    assert client.post(f"/api/mdm/devices/{d.id}/lock/", headers=admin, json={"pin": "12"}).status_code == 400
    assert client.post(f"/api/mdm/devices/{d.id}/unblock/", headers=admin).status_code == 400  # not blocked
    assert client.post(f"/api/mdm/devices/{d.id}/block/", headers=make_token("mdm.view_enrolleddevice")
                       ).status_code == 403
    assert _stored(runtime) == []


def test_the_command_line_is_recorded_without_a_token(runtime, make_device, settings_file):
    from click.testing import CliRunner

    from espalier.cli import main

    d = make_device(platform="macOS")
    result = CliRunner().invoke(main, ["--settings", settings_file, "device", "release", str(d.id)])
    assert result.exit_code == 0, result.output
    assert _stored(runtime) == [("device_released", "enrolleddevice", str(d.id), None, None, {
        "serial_number": d.serial_number, "udid": d.udid, "released_at": _released_at(runtime, d.id)})]


def _released_at(runtime, device_id: int) -> str:
    with runtime.db.session() as s:
        return s.get(EnrolledDevice, device_id).released_at.isoformat()
