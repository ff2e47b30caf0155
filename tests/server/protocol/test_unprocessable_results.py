"""A command result its handler cannot process: kept as a processing error, the command final,
the queue moving on, and nothing the handler wrote half-way kept (``connect.Unprocessable``:
the request is rolled back and stored again with the handler skipped; no savepoint per report).
A database that is unavailable is not the answer's fault: the report is not stored, so the
device sends it again."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from espalier.mdm.commands.device_information import DeviceInformation
from espalier.models import DeviceCommand, EnrolledDevice


@pytest.fixture
def settings(both_databases):
    return both_databases


def _handler(monkeypatch, body):
    """DeviceInformation's handler replaced by ``body(ctx, device)``; returns its call count."""
    calls = []

    def process_result(cls, ctx, device, command, report):
        calls.append(command.uuid)
        return body(ctx, device)
    monkeypatch.setattr(DeviceInformation, "process_result", classmethod(process_result))
    return calls


def _rows(runtime, device_id):
    with runtime.db.session() as s:
        device = s.get(EnrolledDevice, device_id)
        commands = {c.name: c for c in s.scalars(select(DeviceCommand).where(
            DeviceCommand.enrolled_device_id == device_id))}
        return device, commands


def _half_written(ctx, device):
    device.name = "Half-written"
    ctx.s.flush()  # on the database already when the handler fails


def test_a_handler_that_fails_half_way_keeps_nothing_and_the_queue_moves_on(enrolled, runtime, monkeypatch):
    def body(ctx, device):
        _half_written(ctx, device)
        raise RuntimeError("cannot read this answer")
    calls = _handler(monkeypatch, body)
    sim, device_id = enrolled("mac")
    name = _rows(runtime, device_id)[0].name
    assert sim.connect() == [("DeviceInformation", "Acknowledged"), ("SecurityInfo", "Acknowledged")], sim.errors
    assert not sim.errors
    device, commands = _rows(runtime, device_id)
    info = commands["DeviceInformation"]
    assert info.status == "Acknowledged" and info.result_time is not None
    assert info.result == {"processing_error": "RuntimeError: cannot read this answer"}
    assert calls == [info.uuid]  # not run again when the report was stored the second time
    assert device.name == name != "Half-written"
    assert commands["SecurityInfo"].status == "Acknowledged"  # the next command was handed out
    assert device.filevault_enabled is not None  # and its own result processed
    assert sim.connect() == []


def test_a_database_error_in_a_handler_is_rolled_back_with_its_writes(enrolled, runtime, monkeypatch):
    """On PostgreSQL the failed statement aborts the transaction: without a rollback nothing
    after it could run."""
    def body(ctx, device):
        _half_written(ctx, device)
        ctx.s.execute(text("INSERT INTO enrolled_devices (id, udid) VALUES (:id, :udid)"),
                      {"id": device.id, "udid": device.udid})
    _handler(monkeypatch, body)
    sim, device_id = enrolled("mac")
    assert sim.connect() == [("DeviceInformation", "Acknowledged"), ("SecurityInfo", "Acknowledged")], sim.errors
    device, commands = _rows(runtime, device_id)
    assert commands["DeviceInformation"].result["processing_error"].startswith("IntegrityError: ")
    assert device.name != "Half-written"
    assert commands["SecurityInfo"].status == "Acknowledged"


def test_an_unavailable_database_leaves_the_report_for_the_device_to_send_again(enrolled, runtime, monkeypatch):
    def body(ctx, device):
        _half_written(ctx, device)
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
    _handler(monkeypatch, body)
    sim, device_id = enrolled("mac")
    assert sim.connect() == [("DeviceInformation", "Acknowledged")]
    device, commands = _rows(runtime, device_id)
    info = commands["DeviceInformation"]
    assert info.status is None and info.result is None  # not final: the device reports it again
    assert device.name != "Half-written"
    assert commands["SecurityInfo"].time is None  # nothing handed out after it


def test_a_good_result_after_a_failed_one_is_processed(enrolled, client, admin, runtime, monkeypatch):
    """The skip is for the command that failed, in the request that failed, only."""
    calls = _handler(monkeypatch, lambda ctx, device: (_ for _ in ()).throw(ValueError("bad")))
    sim, device_id = enrolled("mac")
    assert sim.connect() == [("DeviceInformation", "Acknowledged"), ("SecurityInfo", "Acknowledged")], sim.errors
    monkeypatch.undo()
    before = _rows(runtime, device_id)[0].last_inventory_at  # SecurityInfo's
    resp = client.post(f"/api/mdm/devices/{device_id}/commands/", headers=admin, json={"name": "DeviceInformation"})
    assert resp.status_code == 201, resp.json
    assert sim.connect() == [("DeviceInformation", "Acknowledged")], sim.errors
    device, _ = _rows(runtime, device_id)
    assert len(calls) == 1 and device.last_inventory_at > before
