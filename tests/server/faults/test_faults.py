"""Faults under load: a worker killed mid-job, Redis restarted empty, PostgreSQL stopped, while
simulated devices poll and commands are queued. No command is lost or doubled, no task fails,
and both sweeps are back on schedule after each fault.

Figures are printed (run with ``-s`` to see them) and kept in ``faults.json`` in the test's
temporary directory.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from espalier.sim.wire import CONNECT_TYPE
from espalier.tasks.push import MIN_INTERVAL

from harness import APNS_HOLD, Harness

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals and process groups")


@pytest.fixture
def world(tmp_path, request):
    harness = Harness(tmp_path)
    failed_before = request.session.testsfailed
    try:
        yield harness.start()
    finally:
        harness.close()
        if request.session.testsfailed > failed_before or os.environ.get("ESPALIER_FAULTS_KEEP"):
            kept = Path(tempfile.gettempdir()) / f"espalier-{harness.tag}"
            shutil.copytree(tmp_path, kept, ignore=shutil.ignore_patterns("*.pem", "*.key"))
            print(f"\nfault test logs kept in {kept}")
        assert harness.leftovers == [], f"processes left behind: {harness.leftovers}"


def _notify_all(h: Harness) -> str:
    resp = h.api.post("/api/mdm/devices/notify/", json={"devices": h.device_ids})
    assert resp.status_code == 201, resp.text
    task_id = resp.json()["task_result_url"].rstrip("/").rsplit("/", 1)[-1]
    h.load.tasks.append(task_id)
    return task_id


def _wait_task(h: Harness, task_id: str, timeout: float = 45) -> tuple[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = h.task_rows([task_id]).get(task_id)
        if row and row[0] in ("finished", "failed"):
            return row
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} did not finish: {h.task_rows([task_id])}")


def _busy_task(h: Harness, tries: int = 3) -> tuple[str, int]:
    """A notify task and the pid of the worker running it, caught mid-run. The load pushes its
    devices all the time, and a push job skips devices pushed less than MIN_INTERVAL ago (it
    then ends in milliseconds): the load pauses for that long first, and resumes once caught."""
    try:
        for _ in range(tries):
            h.load.pause()
            time.sleep(MIN_INTERVAL.total_seconds() + 0.5)
            # Jobs already queued (the load's pushes, delayed pushes) would each wait for the held
            # answers, and on a slow host the notify then does not start in time.
            h.wait_queues_drained()
            h.apns.response_delay = APNS_HOLD
            task_id = _notify_all(h)
            deadline = time.monotonic() + 30
            while (status := h.task_rows([task_id]).get(task_id, ("",))[0]) not in ("started", "finished", "failed"):
                assert time.monotonic() < deadline, f"task {task_id} did not start"
                time.sleep(0.05)
            if status == "started" and (pid := h.worker_running(task_id)) is not None:
                return task_id, pid
            _wait_task(h, task_id)
        raise AssertionError(f"no notify task was caught running in {tries} tries")
    finally:
        h.load.resume()


def _kill_worker_mid_job(h: Harness, figures: dict) -> None:
    task_id, pid = _busy_task(h)  # mid-run: a kill before the job's first write is a unit test (test_queue)
    victim = next(w for w in h.workers if w.pid == pid)
    os.killpg(pid, signal.SIGKILL)
    victim.wait(10)
    killed_at = time.time()
    h.start_worker()  # as a supervisor would
    h.apns.response_delay = 0.0
    status, attempts = _wait_task(h, task_id)
    assert status == "finished" and attempts >= 2, (status, attempts)
    figures["worker_kill"] = {"task_finished_after_s": round(time.time() - killed_at, 1), "attempts": attempts,
                              "sweeps_after_s": h.wait_for_sweeps(killed_at)}


def _restart_redis(h: Harness, figures: dict) -> None:
    task_id, busy_pid = _busy_task(h)
    stopped = next(w for w in h.workers if w.poll() is None and w.pid != busy_pid)
    os.killpg(stopped.pid, signal.SIGSTOP)  # its queued and running work is lost with Redis
    h.redis.kill()
    down_at = time.time()
    time.sleep(4)
    h.redis.start()  # empty: no persistence
    up_at = time.time()
    os.killpg(stopped.pid, signal.SIGCONT)
    h.apns.response_delay = 0.0
    status, _ = _wait_task(h, task_id)
    assert status == "finished"
    rows = h.wait_tasks_finished()
    assert all(status == "finished" for status, _ in rows.values()), rows
    alive = [w for w in h.workers if w.poll() is None]
    assert len(alive) == 2, [(w.pid, w.returncode) for w in h.workers]
    figures["redis_restart"] = {"down_s": round(up_at - down_at, 1), "tasks_finished_after_s": round(time.time() - up_at, 1),
                                "sweeps_after_s": h.wait_for_sweeps(up_at)}


def _wait_all_answered(h: Harness, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        pending = h.sql("SELECT count(*) FROM device_commands WHERE status IS NULL OR status != 'Acknowledged'")[0][0]
        if pending == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{pending} command(s) not answered: "
                                 f"{h.sql('SELECT uuid, name, status FROM device_commands WHERE status IS NULL OR status != %s', 'Acknowledged')[:10]}")
        time.sleep(0.25)


def _probe_outage(h: Harness) -> list[int]:
    """Every answer while PostgreSQL is down: API reads and writes, and a device's connect."""
    statuses = []
    device = h.fleet.devices[0]
    for _ in range(3):
        answers = [h.api.get("/api/mdm/devices/"), h.api.post(f"/api/mdm/devices/{h.device_ids[0]}/commands/",
                                                              json={"name": "DeviceInformation"}),
                   device._put(device.mdm_payload["ServerURL"], CONNECT_TYPE,
                               {"UDID": device.facts.udid, "Status": "Idle"}, "probe")]
        for resp in answers:
            assert resp is not None
            assert resp.status_code == 503 and resp.headers.get("Retry-After"), (resp.status_code, resp.text[:300])
            statuses.append(resp.status_code)
        time.sleep(0.5)
    return statuses


def _stop_postgres(h: Harness, figures: dict) -> None:
    h.load.pause()  # the simulator does not resend a report that failed: nothing may be in flight
    _wait_all_answered(h)
    h.stop_polling()
    h.pg.stop()
    down_at = time.time()
    statuses = _probe_outage(h)
    time.sleep(max(0.0, 4 - (time.time() - down_at)))
    h.pg.start()
    up_at = time.time()
    deadline = time.monotonic() + 30
    while True:
        try:
            if h.api.get("/api/mdm/devices/").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the API did not answer 200 again"
        time.sleep(0.2)
    api_back = time.time() - up_at
    h.start_polling()
    status, _ = _wait_task(h, _notify_all(h))
    assert status == "finished"
    figures["postgres_stop"] = {"down_s": round(up_at - down_at, 1), "answers_503": len(statuses),
                                "api_200_after_s": round(api_back, 1), "sweeps_after_s": h.wait_for_sweeps(up_at)}
    h.load.resume()


def test_no_command_lost_or_doubled_across_faults(world: Harness, tmp_path):
    h = world
    figures: dict = {}
    h.load.start()
    time.sleep(5)
    _kill_worker_mid_job(h, figures)
    time.sleep(3)
    _restart_redis(h, figures)
    time.sleep(3)
    _stop_postgres(h, figures)
    time.sleep(4)
    h.load.stop()
    _wait_all_answered(h)
    rows = h.wait_tasks_finished()

    queued = {c.uuid: c for c in h.load.commands}
    by_id = {device_id: i for i, device_id in enumerate(h.device_ids)}
    udid_of = {row[0]: row[1] for row in h.sql("SELECT id, udid FROM enrolled_devices")}
    received = Counter()
    wrong_device = []
    for device in h.fleet.devices:
        for command in device.commands:
            received[command.command_uuid] += 1
            if command.command_uuid in queued and udid_of[queued[command.command_uuid].device_id] != device.facts.udid:
                wrong_device.append(command.command_uuid)
    statuses = dict(h.sql("SELECT uuid, status FROM device_commands"))
    customs = {row[0] for row in h.sql("SELECT uuid FROM device_commands WHERE name = 'CustomCommand'")}
    refused = [a for a in h.load.answers if a[2] not in (201,)]
    figures["commands"] = {"queued": len(queued), "delivered": sum(1 for u in queued if received[u] >= 1),
                           "lost": sum(1 for u in queued if received[u] == 0),
                           "doubled": sum(1 for u in queued if received[u] > 1),
                           "api_refused": len(refused)}
    figures["tasks"] = dict(Counter(status for status, _ in rows.values()), total=len(rows),
                            redone=sum(1 for _, attempts in rows.values() if attempts > 1))
    (tmp_path / "faults.json").write_text(json.dumps(figures, indent=2))
    print("\nfault test figures:", json.dumps(figures, indent=2))

    assert refused == [], refused[:10]
    assert len(queued) > 50 and by_id  # a loaded 2-core host queues 110-160; the point is traffic across every fault
    assert wrong_device == []
    assert [u for u in queued if received[u] != 1] == []
    assert [u for u in queued if statuses.get(u) != "Acknowledged"] == []
    assert customs == {u for u, c in queued.items() if c.name == "CustomCommand"}
    assert all(status == "finished" for status, _ in rows.values()), rows
    assert set(h.load.tasks) <= set(rows)
