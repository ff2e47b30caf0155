"""Both queue paths run the same jobs and report through /api/task_result/<id>/."""
from __future__ import annotations

import pytest
from redis import Redis

from espalier import runtime as runtime_mod
from espalier.tasks.queue import InProcessTaskQueue, RQTaskQueue, defer

from testenv import REDIS_URL


def add(a: int, b: int) -> dict:
    return {"sum": a + b}


def explode(message: str) -> None:
    raise ValueError(message)


def _defer(rt, func, *args, name="job"):
    with rt.db.session() as s, s.begin():
        task = defer(s, func, *args, name=name)
    return task.id


def test_in_process_thread_runs_jobs_and_records_results(runtime, client, admin):
    runtime.queue = InProcessTaskQueue()
    ok = _defer(runtime, add, 2, 3, name="add")
    bad = _defer(runtime, explode, "boom", name="explode")
    runtime.queue.join()
    resp = client.get(f"/api/task_result/{ok}/", headers=admin).json
    assert resp["status"] == "finished" and resp["result"] == {"sum": 5} and resp["name"] == "add"
    assert list(resp) == ["id", "name", "status", "progress", "result", "error", "created_at", "updated_at"]
    resp = client.get(f"/api/task_result/{bad}/", headers=admin).json
    assert resp["status"] == "failed" and resp["error"] == "ValueError: boom"
    runtime.queue.close()


def test_rolled_back_transaction_enqueues_nothing(runtime):
    ran = []
    runtime.queue = InProcessTaskQueue(sync=True)
    runtime.queue.submit = lambda *a, **k: ran.append(a)
    with pytest.raises(RuntimeError):
        with runtime.db.session() as s, s.begin():
            defer(s, add, 1, 1)
            raise RuntimeError("abort")
    assert ran == []


def test_task_result_unknown_id_is_404(client, admin):
    resp = client.get("/api/task_result/00000000-0000-4000-8000-000000000000/", headers=admin)
    assert resp.status_code == 404
    assert client.get("/api/task_result/" + "x" * 300 + "/", headers=admin).status_code == 404


def test_rq_worker_runs_jobs_from_redis(runtime, client, admin):
    from rq import SimpleWorker

    Redis.from_url(REDIS_URL).flushdb()
    rq_queue = RQTaskQueue(REDIS_URL)
    runtime.queue = rq_queue
    ok = _defer(runtime, add, 20, 22, name="add")
    bad = _defer(runtime, explode, "kaput", name="explode")
    assert client.get(f"/api/task_result/{ok}/", headers=admin).json["status"] == "queued"
    assert rq_queue.queues["default"].count == 2
    SimpleWorker([rq_queue.queues["default"]], connection=rq_queue.redis).work(burst=True)
    assert client.get(f"/api/task_result/{ok}/", headers=admin).json["result"] == {"sum": 42}
    failed = client.get(f"/api/task_result/{bad}/", headers=admin).json
    assert failed["status"] == "failed" and "kaput" in failed["error"]
    rq_queue.close()


def test_unique_job_ids_are_enqueued_once(runtime):
    Redis.from_url(REDIS_URL).flushdb()
    rq_queue = RQTaskQueue(REDIS_URL)
    for _ in range(3):
        rq_queue.submit(f"{__name__}:add", None, (1, 2), queue="sync", job_id="dep-sync-1")
    assert rq_queue.queues["sync"].count == 1
    rq_queue.close()
    inproc = InProcessTaskQueue()
    inproc._pending.add("dep-sync-1")
    inproc.submit(f"{__name__}:add", None, (1, 2), job_id="dep-sync-1")
    assert inproc._q.qsize() == 0


def test_runner_builds_a_runtime_from_the_environment(runtime, monkeypatch, tmp_path):
    """A worker started by hand (plain `rq worker`) finds the settings in ESPALIER_SETTINGS."""
    import json

    from espalier.tasks.runner import run_job

    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"database_url": runtime.settings["database_url"],
                                "secret_keys": runtime.settings["secret_keys"], "log_level": "WARNING"}))
    monkeypatch.setenv("ESPALIER_SETTINGS", str(path))
    saved = runtime_mod._current
    runtime_mod.set_current(None)
    try:
        assert run_job(f"{__name__}:add", None, (1, 1)) == {"sum": 2}
        assert runtime_mod._current is not None
        runtime_mod._current.db.dispose()
    finally:
        runtime_mod.set_current(saved)


def test_notify_endpoint_returns_a_task(client, admin, make_device):
    d = make_device()
    resp = client.post("/api/mdm/devices/notify/", headers=admin, json={"devices": [d.id]})
    assert resp.status_code == 201
    task = client.get(resp.json["task_result_url"], headers=admin).json
    assert task["name"] == "notify_devices" and task["status"] in ("queued", "finished")
    bad = client.post("/api/mdm/devices/notify/", headers=admin, json={"devices": "all"})
    assert bad.status_code == 400 and "devices" in bad.json["errors"]
