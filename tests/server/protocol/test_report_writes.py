"""What a report writes of its command (``queue.record_report``), on PostgreSQL
(``db.HotStatement``s on the driver's cursor, one shape per outcome) and on SQLite (the same
statements through SQLAlchemy): a NotNow counts and stamps, a final status stamps its time,
an error keeps its chain, and the status is in the database before the command's handler
runs. Then the hand-out that follows a report (``queue.hand_out_next``)."""
from __future__ import annotations

import plistlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from espalier.mdm import commands
from espalier.models import DeviceCommand


@pytest.fixture
def settings(both_databases):
    return both_databases


def _commands(runtime, device_id: int) -> dict[str, DeviceCommand]:
    with runtime.db.session() as s:
        return {c.name: c for c in s.scalars(select(DeviceCommand).where(DeviceCommand.enrolled_device_id == device_id))}


def test_not_now_counts_each_session_and_a_final_report_keeps_the_count(client, admin, enrolled, runtime):
    sim, device_id = enrolled("iphone")
    sim.locked = True
    assert sim.connect() == [("DeviceInformation", "NotNow"), ("SecurityInfo", "NotNow")]
    first = _commands(runtime, device_id)["DeviceInformation"]
    assert (first.status, first.notnow_count, first.result_time) == ("NotNow", 1, None)
    assert first.notnow_at is not None and first.updated_at >= first.notnow_at
    assert sim.connect() == [("DeviceInformation", "NotNow"), ("SecurityInfo", "NotNow")]
    second = _commands(runtime, device_id)["DeviceInformation"]
    assert second.notnow_count == 2 and second.notnow_at > first.notnow_at
    sim.locked = False
    assert sim.connect() == [("DeviceInformation", "Acknowledged"), ("SecurityInfo", "Acknowledged")]
    done = _commands(runtime, device_id)["DeviceInformation"]
    assert (done.status, done.notnow_count, done.notnow_at) == ("Acknowledged", 2, second.notnow_at)
    assert done.result_time is not None and done.result_time >= done.time and done.error_chain is None


def test_an_error_keeps_its_chain_and_time(client, admin, enrolled, runtime):
    sim, device_id = enrolled("iphone", fail_commands={"DeviceLock"})
    sim.connect()
    assert client.post(f"/api/mdm/devices/{device_id}/lock/", headers=admin, json={}).status_code == 201
    assert sim.connect() == [("DeviceLock", "Error")]
    lock = _commands(runtime, device_id)["DeviceLock"]
    assert lock.status == "Error" and lock.result_time is not None and lock.result is None
    assert lock.error_chain and lock.error_chain[0]["ErrorCode"]


def test_the_handler_sees_its_command_answered(client, admin, enrolled, runtime, monkeypatch):
    """A handler that reads the queue (what is still pending) must not find the command it is
    processing among the pending ones."""
    seen = []
    handler = commands.get("SecurityInfo")
    original = handler.process_result

    def process_result(ctx, device, command, result):
        seen.append(ctx.s.connection().execute(
            select(DeviceCommand.status, DeviceCommand.result_time).where(DeviceCommand.id == command.id)).one())
        return original(ctx, device, command, result)
    monkeypatch.setattr(handler, "process_result", staticmethod(process_result))
    sim, _ = enrolled("mac")
    assert sim.connect() == [("DeviceInformation", "Acknowledged"), ("SecurityInfo", "Acknowledged")]
    assert len(seen) == 1 and seen[0].status == "Acknowledged" and seen[0].result_time is not None


def _connect(client, headers, **message) -> dict | None:
    resp = client.put("/mdm/connect", data=plistlib.dumps(message),
                      headers={"Content-Type": "application/x-apple-aspen-mdm", **headers})
    assert resp.status_code == 200, resp.data
    return plistlib.loads(resp.data) if resp.data else None


def test_a_command_handed_out_after_a_report_is_in_flight_then_offered_again(
        client, admin, enrolled, runtime, monkeypatch):
    """The next command, handed out in the answer to a report, is stamped in the same
    statement: a new session does not get it again while it is in flight, and gets it once
    that passed (the device lost it), with its arguments."""
    from espalier.mdm import queue
    from espalier.sim.device import mtls_headers

    sim, device_id = enrolled("iphone")
    sim.connect()
    assert client.post(f"/api/mdm/devices/{device_id}/commands/", headers=admin,
                       json={"name": "DeviceInformation"}).status_code == 201
    assert client.post(f"/api/mdm/devices/{device_id}/lock/", headers=admin,
                       json={"message": "Call the help desk"}).status_code == 201
    headers, udid = mtls_headers(sim.identity_cert), sim.facts.udid
    first = _connect(client, headers, UDID=udid, Status="Idle")
    assert first["Command"]["RequestType"] == "DeviceInformation"
    second = _connect(client, headers, UDID=udid, Status="Acknowledged", CommandUUID=first["CommandUUID"],
                      QueryResponses={})
    assert second["Command"] == {"RequestType": "DeviceLock", "Message": "Call the help desk"}
    lock = _commands(runtime, device_id)["DeviceLock"]
    assert lock.status is None and lock.time is not None and lock.updated_at == lock.time
    assert _connect(client, headers, UDID=udid, Status="Idle") is None  # in flight: not doubled
    monkeypatch.setattr(queue, "IN_FLIGHT", timedelta(0))
    again = _connect(client, headers, UDID=udid, Status="Idle")
    assert (again["CommandUUID"], again["Command"]) == (second["CommandUUID"], second["Command"])
    assert _commands(runtime, device_id)["DeviceLock"].time > lock.time
