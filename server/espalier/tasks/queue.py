"""Background work: one enqueuer, two backends.

A job is a module-level function ``job(rt, *args)`` referenced as a function (never by a
string at the call site); it receives the runtime of the process that runs it, takes ids,
opens its own sessions and is safe to run twice. ``TaskQueue.defer`` is the one way to
start one: after the caller's transaction commits, so a job never reads rows that do not
exist yet and a rolled back request starts nothing.

Tracked jobs get a ``task_results`` row when deferred (status, progress, result); the row
also records the job's function and arguments, so ``tasks.sweeps`` can start again a task
whose job was lost (Redis restarted, worker killed). Untracked jobs (pushes) need no row:
the sweep that re-pushes devices with pending commands covers a lost one. Either way a
queue that cannot be reached after the commit is logged, never raised: the request that
committed its work succeeded and the sweeps finish what it started.

Backends: ``RQTaskQueue`` (Redis, consumed by ``espalier worker``) and
``InProcessTaskQueue`` (a thread of this process: the embedded default).
"""
from __future__ import annotations

import json
import logging
import queue as stdlib_queue
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from espalier.models import TaskResult
from espalier.tasks.runner import func_path, log_failure, run_job, run_rq_job

log = logging.getLogger(__name__)

QUEUES = ("default", "push", "sync")


@dataclass(frozen=True)
class Job:
    func: Callable
    args: tuple = ()
    queue: str = "default"
    task_id: str | None = None  # a tracked job's task_results row
    timeout: int = 600
    job_id: str | None = None  # the queue's id for it: the task id, or a beat run's id

    @property
    def id(self) -> str | None:
        return self.job_id or self.task_id


class TaskQueue:
    """What both backends share: deferring after commit, and the submit interface."""

    def bind(self, runtime) -> None:
        """The runtime whose jobs run here (only the in-process backend runs jobs itself)."""

    def submit(self, job: Job) -> None:
        raise NotImplementedError

    def submit_in(self, delay: float, job: Job) -> None:
        raise NotImplementedError

    def is_live(self, job_id: str) -> bool | None:
        """Whether a job is still queued or running; None when the backend cannot tell."""
        return None

    def claim(self, name: str, seconds: float) -> bool:
        """Whether this process may start the periodic job ``name`` now (one beat per period)."""
        return True

    def close(self) -> None:
        pass

    def defer(self, s: Session, func: Callable, *args: Any, name: str | None = None, track: bool = True,
              queue: str = "default", timeout: int = 600) -> TaskResult | None:
        """Run ``func(rt, *args)`` once ``s`` commits; tracked jobs get their task row now."""
        task = None
        if track:
            task = TaskResult(name=name or func.__name__, status="queued", func=func_path(func),
                              args=json.loads(json.dumps(list(args))), queue=queue, timeout=timeout)
            s.add(task)
            s.flush()
        job = Job(func, args, queue, task.id if task else None, timeout)
        event.listen(s, "after_commit", lambda _s: self.submit_after_commit(job), once=True)
        return task

    def submit_after_commit(self, job: Job) -> None:
        try:
            self.submit(job)
        except Exception as exc:  # the work is committed: the sweeps start it again
            log.warning("cannot enqueue %s (%s: %s); the periodic sweep will run it", func_path(job.func),
                        type(exc).__name__, exc)


class RQTaskQueue(TaskQueue):
    """RQ queues named by purpose; ``espalier worker`` consumes them.

    Delayed jobs wait in RQ's scheduled registry and are moved to their queue by our beat
    (``tasks.periodic``), not by RQ's scheduler process, which dies with each Redis restart.
    """

    def __init__(self, redis_url: str):
        from redis import Redis
        from rq import Queue

        self.redis = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5,
                                    health_check_interval=30)
        self.queues = {name: Queue(f"espalier:{name}", connection=self.redis) for name in QUEUES}

    def _options(self, job: Job) -> dict[str, Any]:
        from rq import Retry

        options: dict[str, Any] = dict(job_timeout=job.timeout, result_ttl=600, failure_ttl=86400)
        if job.task_id is None and job.job_id is None:  # untracked jobs (pushes) retry on their own
            options["retry"] = Retry(max=3, interval=[10, 30, 60])
        if job.id:
            options["job_id"] = job.id
        return options

    def submit(self, job: Job) -> None:
        self.queues[job.queue].enqueue(run_rq_job, job.func, job.task_id, job.args, **self._options(job))

    def submit_in(self, delay: float, job: Job) -> None:
        self.queues[job.queue].enqueue_in(timedelta(seconds=delay), run_rq_job, job.func, job.task_id, job.args,
                                          **self._options(job))

    def is_live(self, job_id: str) -> bool | None:
        from rq.exceptions import NoSuchJobError
        from rq.job import Job as RQJob, JobStatus

        try:
            status = RQJob.fetch(job_id, connection=self.redis).get_status(refresh=False)
        except NoSuchJobError:
            return False
        return status in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED)

    def claim(self, name: str, seconds: float) -> bool:
        # Every worker runs a beat; the first to set the key this period enqueues the job.
        return bool(self.redis.set(f"espalier:beat:{name}", "1", nx=True, px=max(1, int(seconds * 900))))

    def move_due_scheduled(self) -> int:
        """Enqueue the delayed jobs whose time has come (the beat calls this every tick)."""
        moved = 0
        for q in self.queues.values():
            registry = q.scheduled_job_registry
            for job_id in registry.get_jobs_to_schedule():
                try:
                    q.enqueue_job(q.fetch_job(job_id))
                    registry.remove(job_id)
                    moved += 1
                except Exception:  # a job that vanished meanwhile: nothing to move
                    registry.remove(job_id)
        return moved

    def close(self) -> None:
        self.redis.close()


class InProcessTaskQueue(TaskQueue):
    """One daemon thread running jobs in order: the embedded default needs no other server.

    ``sync=True`` runs each job right after commit in the caller's thread (CLI, tests).
    """

    def __init__(self, sync: bool = False):
        self.sync = sync
        self.runtime = None
        self._q: stdlib_queue.Queue = stdlib_queue.Queue()
        self._live: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def bind(self, runtime) -> None:
        self.runtime = runtime

    def submit(self, job: Job) -> None:
        if job.id:
            with self._lock:
                self._live.add(job.id)
        if self.sync:
            self._run(job)
            return
        self._ensure_thread()
        self._q.put(job)

    def submit_in(self, delay: float, job: Job) -> None:
        timer = threading.Timer(delay, self.submit, (job,))
        timer.daemon = True
        timer.start()

    def is_live(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._live

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="espalier-jobs", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._q.get()
            if job is None:
                return
            try:
                self._run(job)
            finally:
                self._q.task_done()

    def _run(self, job: Job) -> None:
        try:
            run_job(self.runtime, job.func, job.task_id, job.args)
        except Exception as exc:  # recorded in task_results by run_job; the thread must survive
            log_failure(f"job {func_path(job.func)}", exc)
        finally:
            if job.id:
                with self._lock:
                    self._live.discard(job.id)

    def join(self) -> None:
        """Wait until every queued job has run (tests, shutdown)."""
        self._q.join()

    def close(self) -> None:
        if self._thread and self._thread.is_alive():
            self._q.put(None)
            self._thread.join(timeout=5)


def make_queue(settings) -> TaskQueue:
    return RQTaskQueue(settings["redis_url"]) if settings["redis_url"] else InProcessTaskQueue()
