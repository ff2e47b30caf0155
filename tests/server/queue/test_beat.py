"""The beat keeps its schedule: each run has its own id, one beat per period starts a job,
and a run whose previous run is still queued is skipped with a warning."""
from __future__ import annotations

import logging

import pytest
from redis import Redis

from espalier.tasks import runner
from espalier.tasks.periodic import Beat, Every
from espalier.tasks.queue import RQTaskQueue

from testenv import REDIS_URL

RUNS: list[str] = []


def tick(rt) -> dict:
    RUNS.append("tick")
    return {}


SCHEDULE = (Every(tick, "default", 30),)


@pytest.fixture
def rq_runtime(runtime):
    Redis.from_url(REDIS_URL).flushdb()
    q = RQTaskQueue(REDIS_URL)
    runtime.queue = q
    runner.serve_runtime(runtime)
    RUNS.clear()
    yield runtime
    runner.serve_runtime(None)
    q.close()


def _work(q):
    from rq import SimpleWorker

    SimpleWorker([q.queues["default"]], connection=q.redis).work(burst=True)


def test_finished_runs_never_block_the_next_one(rq_runtime):
    """The old bug: a unique job id collided with the finished job kept for result_ttl, so the
    30 s sweep ran about once an hour."""
    beat = Beat(rq_runtime, SCHEDULE)
    q = rq_runtime.queue
    for period in range(3):
        q.redis.delete("espalier:beat:tick")  # the next period's claim
        assert beat.run_due(now=period * 30.0) == ["tick"]
        _work(q)
    assert RUNS == ["tick", "tick", "tick"]


def test_one_beat_per_period_starts_the_job(rq_runtime):
    first, second = Beat(rq_runtime, SCHEDULE), Beat(rq_runtime, SCHEDULE)
    assert first.run_due(now=0.0) == ["tick"]
    assert second.run_due(now=0.0) == []  # another worker's beat already did this period
    assert rq_runtime.queue.queues["default"].count == 1


def test_a_run_still_queued_is_skipped_with_a_warning(rq_runtime, caplog):
    beat = Beat(rq_runtime, SCHEDULE)
    assert beat.run_due(now=0.0) == ["tick"]
    rq_runtime.queue.redis.delete("espalier:beat:tick")
    with caplog.at_level(logging.WARNING):
        assert beat.run_due(now=30.0) == []
    assert "periodic job tick skipped" in caplog.text


def test_the_beat_survives_a_queue_outage(runtime, caplog):
    runtime.queue = RQTaskQueue("redis://127.0.0.1:1/0")
    beat = Beat(runtime, SCHEDULE, tick=0.01)
    with caplog.at_level(logging.WARNING):
        beat.start()
        import time
        time.sleep(0.2)
        beat.stop()
        beat.join(timeout=2)
    assert not beat.is_alive() and "beat tick failed" in caplog.text


def test_the_default_schedule_holds_the_sweeps(runtime):
    names = {entry.name: entry.seconds for entry in Beat(runtime).schedule}
    assert names["renotify-pending"] == 30 and names["redo-lost-tasks"] == 60
    assert names["queue-due-inventories"] == 900


def test_the_sweep_periods_come_from_the_settings(settings_factory, pg_url):
    from espalier.runtime import build

    rt = build(settings_factory(pg_url, sweeps={"renotify_seconds": 4, "lost_tasks_seconds": 5}))
    try:
        beat = Beat(rt)
        names = {entry.name: entry.seconds for entry in beat.schedule}
        assert names["renotify-pending"] == 4 and names["redo-lost-tasks"] == 5 and beat.tick == 1.0
    finally:
        rt.close()
