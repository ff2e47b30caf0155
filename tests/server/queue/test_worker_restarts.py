"""`espalier worker` outlives Redis restarts: RQ's work loop quits when Redis fails while a job
finishes (and its cleanup raises again); RQTaskQueue.work starts a new RQ worker once Redis
answers, and SIGTERM still stops it cleanly."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from redis.backoff import NoBackoff
from redis.retry import Retry

from espalier.tasks import runner
from espalier.tasks.queue import Job, RQTaskQueue

from private_servers import PrivateRedis

RAN: list[str] = []
SERVERS: dict[str, object] = {}


def restart_redis_after_this_job(rt) -> None:
    """Redis dies under the job; it is back (empty) a moment after the job returned."""
    server: PrivateRedis = SERVERS["redis"]
    queue: RQTaskQueue = SERVERS["queue"]
    server.kill()
    RAN.append("restart")

    def back():
        time.sleep(1.5)
        server.start()
        queue.submit(Job(stop_the_worker))

    threading.Thread(target=back, daemon=True).start()


def stop_the_worker(rt) -> None:
    RAN.append("after")
    os.kill(os.getpid(), signal.SIGTERM)  # what a supervisor sends: a warm stop after this job


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path).start()
    yield server
    server.kill()


def _alarm(*_):
    raise TimeoutError("the worker did not stop")


def test_the_worker_survives_a_redis_restart_and_stops_on_sigterm(runtime, private_redis):
    q = RQTaskQueue(private_redis.url)
    q.redis.set_retry(Retry(NoBackoff(), 0))  # fail at once instead of riding out the restart
    runtime.queue = q
    runner.serve_runtime(runtime)
    SERVERS.update(redis=private_redis, queue=q)
    RAN.clear()
    before = set(threading.enumerate())
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(30)
    try:
        q.submit(Job(restart_redis_after_this_job))
        q.work(["default"])  # returns only on SIGTERM
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        runner.serve_runtime(None)
        q.close()
    assert RAN == ["restart", "after"]
    listeners = [t for t in set(threading.enumerate()) - before if type(t).__name__ == "PubSubWorkerThread"]
    for listener in listeners:
        listener.join(3)
    assert [t for t in listeners if t.is_alive()] == []  # the dead worker's pubsub listener was told to stop
