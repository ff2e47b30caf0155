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


def test_a_command_canceled_while_it_is_being_handed_out_is_not_sent(client, admin, enrolled, runtime):
    """The operator's cancel holds the command's row when the connect's hand-out reaches it (the
    connect's work already found it pending): once the cancel commits, the hand-out finds it no
    longer pending and sends nothing, so the device never runs a withdrawn command."""
    import threading
    import time

    import psycopg

    from espalier.sim.device import mtls_headers

    if runtime.db.is_sqlite:
        pytest.skip("SQLite runs one writer at a time: the two cannot interleave")
    sim, device_id = enrolled("iphone")
    sim.connect()
    lock = client.post(f"/api/mdm/devices/{device_id}/lock/", headers=admin, json={"message": "Call us"}).json
    headers, udid = mtls_headers(sim.identity_cert), sim.facts.udid
    url = runtime.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    answers: list = []
    with psycopg.connect(url) as operator:  # the cancel, not committed yet
        operator.execute("UPDATE device_commands SET status = 'Canceled', result_time = now() WHERE uuid = %s",
                         (lock["uuid"],))
        connect = threading.Thread(target=lambda: answers.append(_connect(client, headers, UDID=udid, Status="Idle")))
        connect.start()
        with psycopg.connect(url, autocommit=True) as watcher:
            for _ in range(200):  # until the connect waits for the command's row
                if watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND wait_event_type = 'Lock'").fetchone()[0]:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the connect never waited for the canceled command's row")
        operator.commit()
        connect.join(10)
    assert answers == [None]
    canceled = _commands(runtime, device_id)["DeviceLock"]
    assert canceled.status == "Canceled" and canceled.time is None
