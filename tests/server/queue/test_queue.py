"""Both queue backends run the same jobs and report through /api/task_result/<id>/."""
from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import update

from espalier.models import TaskResult, utcnow
from espalier.tasks import runner
from espalier.tasks.queue import InProcessTaskQueue, Job, RQTaskQueue

from testenv import REDIS_URL


def add(rt, a: int, b: int) -> dict:
    return {"sum": a + b}


def explode(rt, message: str) -> None:
    raise ValueError(message)


def _defer(rt, func, *args, name="job"):
    with rt.db.session() as s, s.begin():
        task = rt.queue.defer(s, func, *args, name=name)
    return task.id


@pytest.fixture
def rq_queue(runtime):
    Redis.from_url(REDIS_URL).flushdb()
    q = RQTaskQueue(REDIS_URL)
    runtime.queue = q
    runner.serve_runtime(runtime)
    yield q
    runner.serve_runtime(None)
    q.close()


def _work(q: RQTaskQueue, *names: str) -> None:
    from rq import SimpleWorker

    SimpleWorker([q.queues[n] for n in names or ("default",)], connection=q.redis).work(burst=True)


def test_in_process_thread_runs_jobs_and_records_results(runtime, client, admin):
    runtime.queue = InProcessTaskQueue()
    runtime.queue.bind(runtime)
    ok = _defer(runtime, add, 2, 3, name="add")
    bad = _defer(runtime, explode, "boom", name="explode")
    runtime.queue.join()
    resp = client.get(f"/api/task_result/{ok}/", headers=admin).json
    assert resp == {"name": "add", "id": ok, "status": "SUCCESS", "unready": False, "result": {"sum": 5}}
    resp = client.get(f"/api/task_result/{bad}/", headers=admin).json
    assert resp["status"] == "FAILURE" and resp["unready"] is False and resp["error"] == "ValueError: boom"
    runtime.queue.close()


def test_a_task_row_remembers_its_job(runtime):
    task_id = _defer(runtime, add, 4, 5)
    with runtime.db.session() as s:
        row = s.get(TaskResult, task_id)
    assert (row.func, row.args, row.queue, row.attempts) == (f"{__name__}:add", [4, 5], "default", 1)


def test_rolled_back_transaction_enqueues_nothing(runtime):
    ran = []
    runtime.queue.submit = ran.append
    with pytest.raises(RuntimeError):
        with runtime.db.session() as s, s.begin():
            runtime.queue.defer(s, add, 1, 1)
            raise RuntimeError("abort")
    assert ran == []


def test_task_result_of_an_unknown_id_is_unknown_as_in_zentral(client, admin):
    resp = client.get("/api/task_result/00000000-0000-4000-8000-000000000000/", headers=admin)
    assert resp.status_code == 200
    assert resp.json == {"id": "00000000-0000-4000-8000-000000000000", "status": "UNKNOWN", "unready": True}
    assert client.get("/api/task_result/" + "x" * 300 + "/", headers=admin).json["status"] == "UNKNOWN"


def test_rq_worker_runs_jobs_from_redis(runtime, rq_queue, client, admin):
    ok = _defer(runtime, add, 20, 22, name="add")
    bad = _defer(runtime, explode, "kaput", name="explode")
    assert client.get(f"/api/task_result/{ok}/", headers=admin).json == {
        "name": "add", "id": ok, "status": "PENDING", "unready": True}
    assert rq_queue.queues["default"].count == 2 and rq_queue.is_live(ok)
    # What the worker logs for a job names our function and its arguments (the deployment tests grep it).
    from rq.job import Job as RQJob
    assert RQJob.fetch(ok, connection=rq_queue.redis).description == f"{__name__}:add(20, 22)"
    _work(rq_queue)
    assert client.get(f"/api/task_result/{ok}/", headers=admin).json["result"] == {"sum": 42}
    failed = client.get(f"/api/task_result/{bad}/", headers=admin).json
    assert failed["status"] == "FAILURE" and "kaput" in failed["error"]
    assert not rq_queue.is_live(ok)


def test_queue_down_after_commit_keeps_the_request_and_the_sweep_runs_it(runtime, caplog):
    """The work is committed: an unreachable queue is logged, the lost-task sweep starts it."""
    from espalier.tasks.sweeps import redo_lost_tasks

    down = RQTaskQueue("redis://127.0.0.1:1/0")  # nothing listens there
    runtime.queue = down
    with caplog.at_level(logging.WARNING):
        task_id = _defer(runtime, add, 1, 2)
    assert "the periodic sweep will run it" in caplog.text
    runtime.queue = InProcessTaskQueue(sync=True)
    runtime.queue.bind(runtime)
    assert redo_lost_tasks(runtime) == {"redone": 0, "failed": 0}  # too recent to call lost
    with runtime.db.session() as s, s.begin():
        s.execute(update(TaskResult).values(updated_at=utcnow() - timedelta(minutes=5)))
    assert redo_lost_tasks(runtime) == {"redone": 1, "failed": 0}
    with runtime.db.session() as s:
        row = s.get(TaskResult, task_id)
    assert (row.status, row.result) == ("finished", {"sum": 3})


def test_a_job_lost_with_a_redis_restart_is_run_again(runtime, rq_queue):
    from espalier.tasks.sweeps import redo_lost_tasks

    task_id = _defer(runtime, add, 2, 2)
    Redis.from_url(REDIS_URL).flushdb()  # Redis restarted without persistence
    with runtime.db.session() as s, s.begin():
        s.execute(update(TaskResult).values(updated_at=utcnow() - timedelta(minutes=5)))
    assert redo_lost_tasks(runtime)["redone"] == 1
    _work(rq_queue)
    with runtime.db.session() as s:
        assert s.get(TaskResult, task_id).result == {"sum": 4}


def test_a_started_task_without_heartbeat_is_run_again_then_failed(runtime, rq_queue):
    """A worker killed mid-job leaves its task 'started': after the job's timeout it is redone,
    and a task lost again and again ends failed instead of looping."""
    from espalier.tasks import sweeps

    task_id = _defer(runtime, add, 3, 3)
    stale = utcnow() - timedelta(seconds=600 + 120)
    with runtime.db.session() as s, s.begin():
        s.execute(update(TaskResult).values(status="started", updated_at=stale))
    assert sweeps.redo_lost_tasks(runtime)["redone"] == 1
    with runtime.db.session() as s, s.begin():
        s.execute(update(TaskResult).values(status="started", updated_at=stale, attempts=sweeps.MAX_ATTEMPTS))
    assert sweeps.redo_lost_tasks(runtime) == {"redone": 0, "failed": 1}
    with runtime.db.session() as s:
        row = s.get(TaskResult, task_id)
    assert row.status == "failed" and row.error.startswith("lost")


def test_runner_builds_a_runtime_from_the_environment(runtime, monkeypatch, tmp_path):
    """A worker started by hand (plain `rq worker`) finds the settings in ESPALIER_SETTINGS."""
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"database_url": runtime.settings["database_url"],
                                "secret_keys": runtime.settings["secret_keys"], "log_level": "WARNING"}))
    monkeypatch.setenv("ESPALIER_SETTINGS", str(path))
    runner.serve_runtime(None)
    try:
        assert runner.run_rq_job(add, None, (1, 1)) == {"sum": 2}
    finally:
        built = runner.worker_runtime()
        runner.serve_runtime(None)
        built.close()


def test_notify_endpoint_returns_a_task(client, admin, make_device):
    d = make_device()
    resp = client.post("/api/mdm/devices/notify/", headers=admin, json={"devices": [d.id]})
    assert resp.status_code == 201
    task = client.get(resp.json["task_result_url"], headers=admin).json
    assert task["name"] == "notify_devices" and task["status"] in ("PENDING", "SUCCESS")
    bad = client.post("/api/mdm/devices/notify/", headers=admin, json={"devices": "all"})
    assert bad.status_code == 400 and bad.json == {"devices": ['Expected a list of items but got type "str".']}


def test_delayed_jobs_are_moved_by_the_beat_not_rqs_scheduler(runtime, rq_queue):
    rq_queue.submit_in(0, Job(add, (5, 5)))
    assert rq_queue.queues["default"].count == 0
    assert rq_queue.move_due_scheduled() == 1
    assert rq_queue.queues["default"].count == 1


def test_a_push_whose_delayed_push_cannot_be_scheduled_still_succeeds(runtime, make_device, caplog):
    """The old bug: with Redis down, scheduling the delayed push of rate limited devices raised
    and failed the operator's task although its pushes went out; the re-notify sweep covers them."""
    from espalier.tasks import push

    runtime.queue = RQTaskQueue("redis://127.0.0.1:1/0")  # nothing listens there
    d = make_device(push_token="ab" * 32, push_magic="magic", last_notified_at=utcnow())
    with caplog.at_level(logging.WARNING):
        assert push.notify_devices(runtime, [d.id]) == {"sent": 0, "skipped": 1, "dead_tokens": 0}
    assert "the re-notify sweep will push them" in caplog.text


def test_a_queued_task_whose_worker_died_as_it_took_the_job_is_run_again(runtime, rq_queue):
    """A worker killed after RQ marked the job started but before the job's first write left the
    row 'queued' and the job 'started' in Redis: the sweep took it for live and never redid it."""
    from rq.job import Job as RQJob

    from espalier.tasks.sweeps import redo_lost_tasks

    task_id = _defer(runtime, add, 6, 6)
    job = RQJob.fetch(task_id, connection=rq_queue.redis)
    rq_queue.queues["default"].remove(job)
    job.set_status("started")  # what RQ writes as a worker takes the job; that worker then died
    with runtime.db.session() as s, s.begin():
        s.execute(update(TaskResult).values(updated_at=utcnow() - timedelta(minutes=5)))
    assert redo_lost_tasks(runtime)["redone"] == 1
    _work(rq_queue)
    with runtime.db.session() as s:
        assert s.get(TaskResult, task_id).result == {"sum": 12}


def collect(rt, ids: list[int]) -> None:
    rt.calls.append(ids)


def test_waiting_push_jobs_run_as_one_call_on_the_union_of_their_ids(runtime):
    import threading

    q = InProcessTaskQueue()
    q.bind(runtime)
    runtime.calls, gate = [], threading.Event()
    q.submit(Job(lambda rt: gate.wait(5)))  # hold the thread while the others queue up
    for ids in ([3, 1], [2], [1, 4]):
        q.submit(Job(collect, (ids,), merge=True))
    q.submit(Job(collect, ([9],)))  # not mergeable: runs on its own, after them
    q.submit(Job(collect, ([5],), merge=True))
    gate.set()
    q.join()
    assert runtime.calls == [[1, 2, 3, 4], [9], [5]]
    q.close()


def test_only_untracked_jobs_of_one_id_list_can_be_merged(runtime):
    with runtime.db.session() as s, s.begin():
        with pytest.raises(ValueError):
            runtime.queue.defer(s, collect, [1], merge=True)  # tracked
        with pytest.raises(ValueError):
            runtime.queue.defer(s, add, 1, 2, track=False, merge=True)
