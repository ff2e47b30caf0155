"""The device sync job against the fake ABM: fetch, deltas, cursor errors, echo, idempotence, claim."""
from __future__ import annotations

import pytest
from fakes.abm import make_device
from sqlalchemy import func, select

from espalier.models import DEPDevice, DEPVirtualServer, TaskResult
from espalier.services import dep_devices
from espalier.tasks import dep


def start(runtime, server_id, full=False):
    with runtime.db.session() as s, s.begin():
        task_id, started = dep_devices.start_sync(s, runtime.queue, server_id, full)
    with runtime.db.session() as s:
        return s.get(TaskResult, task_id), started


def devices(runtime) -> dict[str, DEPDevice]:
    with runtime.db.session() as s:
        return {d.serial_number: d for d in s.scalars(select(DEPDevice))}


def server(runtime, server_id) -> DEPVirtualServer:
    with runtime.db.session() as s:
        return s.get(DEPVirtualServer, server_id)


def test_full_fetch_then_deltas(runtime, fake, server_id):
    fake.limits["/server/devices"]["maximum"] = 10
    task, started = start(runtime, server_id)
    assert started and task.status == "finished", task.error
    assert task.result["added"] == 25 and task.result["pages"] == 3 and task.result["status"] == "SUCCESS"
    assert task.progress["pages"] == 3
    assert len(devices(runtime)) == 25
    vs = server(runtime, server_id)
    assert vs.cursor_kind == "sync" and vs.cursor and vs.sync_claim is None and vs.last_synced_at

    fake.add(make_device(0, "NEW00000001"))
    fake.modify("FAKE00000003", color="SILVER")
    fake.delete("FAKE00000004")
    task, _ = start(runtime, server_id)
    assert {k: task.result[k] for k in ("added", "modified", "deleted")} == {"added": 1, "modified": 1, "deleted": 1}
    rows = devices(runtime)
    assert len(rows) == 26  # the deleted device is marked, not removed
    assert rows["FAKE00000004"].last_op_type == "deleted"
    assert rows["FAKE00000003"].color == "SILVER" and rows["FAKE00000003"].last_op_type == "modified"
    assert rows["NEW00000001"].last_op_type == "added"
    # the full fetch was not repeated
    assert len(fake.calls("/server/devices")) == 3


def test_sync_is_idempotent(runtime, fake, server_id):
    start(runtime, server_id)
    before = {k: (v.updated_at, v.color) for k, v in devices(runtime).items()}
    task, _ = start(runtime, server_id, full=True)
    assert task.result["unchanged"] == 25 and task.result["added"] == task.result["modified"] == 0
    assert {k: (v.updated_at, v.color) for k, v in devices(runtime).items()} == before
    task, _ = start(runtime, server_id)  # nothing new at Apple
    assert task.result["pages"] == 1 and task.result["added"] == task.result["modified"] == 0


def test_full_fetch_marks_vanished_devices_deleted(runtime, fake, server_id):
    start(runtime, server_id)
    fake.devices.pop("FAKE00000007")  # gone without a sync event (Apple's cooldown does this)
    task, _ = start(runtime, server_id, full=True)
    assert task.result["deleted"] == 1
    assert devices(runtime)["FAKE00000007"].last_op_type == "deleted"
    fake.devices["FAKE00000007"] = make_device(7)  # back again
    task, _ = start(runtime, server_id, full=True)
    assert task.result["added"] == 1 and devices(runtime)["FAKE00000007"].last_op_type == "added"


def test_duplicate_serials_keep_the_latest_op_date(runtime, fake, server_id):
    start(runtime, server_id)
    fake.modify("FAKE00000001", color="RED")
    fake.repeat_event("FAKE00000001", "deleted", "2020-01-01T00:00:00Z")  # older: ignored
    task, _ = start(runtime, server_id)
    row = devices(runtime)["FAKE00000001"]
    assert row.color == "RED" and row.last_op_type == "modified"
    assert task.result["deleted"] == 0


@pytest.mark.parametrize("how", ["expired", "invalid"])
def test_expired_or_invalid_cursor_falls_back_to_a_full_fetch(runtime, fake, server_id, how):
    start(runtime, server_id)
    if how == "expired":
        fake.expire_cursors()
    else:
        with runtime.db.session() as s, s.begin():
            s.get(DEPVirtualServer, server_id).cursor = "not-a-cursor"
    fetches = len(fake.calls("/server/devices"))
    task, _ = start(runtime, server_id)
    assert task.status == "finished" and task.result["unchanged"] == 25
    assert len(fake.calls("/server/devices")) == fetches + 1
    assert server(runtime, server_id).cursor_kind == "sync"


def test_exhausted_cursor_switches_to_sync(runtime, fake, server_id):
    start(runtime, server_id)
    with runtime.db.session() as s, s.begin():
        s.get(DEPVirtualServer, server_id).cursor_kind = "fetch"  # as if the last page's write said fetch
    task, _ = start(runtime, server_id)
    assert task.status == "finished"
    assert fake.calls("/devices/sync") and server(runtime, server_id).cursor_kind == "sync"


def test_echoed_cursor_stops_the_run(runtime, fake, server_id):
    start(runtime, server_id)
    fake.add(make_device(0, "NEW00000002"))
    fake.echo_cursor(times=50)
    calls = len(fake.calls("/devices/sync"))
    task, _ = start(runtime, server_id)
    assert task.status == "finished" and task.result["echoed_cursor"] is True
    assert len(fake.calls("/devices/sync")) == calls + 1  # one call, no loop
    fake._echo = 0
    task, _ = start(runtime, server_id)  # the next run picks up where it was
    assert task.result["added"] == 1


def test_session_expiry_and_throttling_during_a_sync(runtime, fake, server_id):
    fake.limits["/server/devices"]["maximum"] = 5
    runtime_sleeps = []
    import espalier.apple.abm as abm

    original = abm.ABMClient.__init__

    def no_sleep(self, *args, **kwargs):
        original(self, *args, **{**kwargs, "sleep": runtime_sleeps.append})

    abm.ABMClient.__init__ = no_sleep
    try:
        fake.throttle(times=2, status=503, retry_after=2)
        fake.rotate_every = 2
        task, _ = start(runtime, server_id)
    finally:
        abm.ABMClient.__init__ = original
    assert task.status == "finished", task.error
    assert runtime_sleeps == [2, 2] and task.result["added"] == 25


def test_a_second_sync_request_gets_the_running_task(runtime, server_id):
    with runtime.db.session() as s, s.begin():
        first, started = dep_devices.start_sync(s, type(runtime.queue)(), server_id)  # a queue that runs nothing
    assert started
    with runtime.db.session() as s, s.begin():
        second, started = dep_devices.start_sync(s, runtime.queue, server_id)
    assert (second, started) == (first, False)
    # the task that holds the claim finished (failed): the claim can be taken again
    with runtime.db.session() as s, s.begin():
        s.get(TaskResult, first).status = "failed"
    task, started = start(runtime, server_id)
    assert started and task.id != first and task.status == "finished"


def test_a_sync_that_lost_its_claim_writes_nothing(runtime, fake, server_id):
    with runtime.db.session() as s, s.begin():
        assert dep_devices.claim(s, server_id, "mine", None)
    with runtime.db.session() as s, s.begin():
        s.get(DEPVirtualServer, server_id).sync_claim = "someone-else"
    result = dep.sync_virtual_server_devices(runtime, server_id, "mine")
    assert result["status"] == "SKIPPED"
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(DEPDevice)) == 0


def test_beat_job_starts_every_server_once(runtime, server_id):
    out = dep.sync_all_virtual_servers(runtime)
    assert out == {"started": [server_id], "busy": []}
    assert len(devices(runtime)) == 25
