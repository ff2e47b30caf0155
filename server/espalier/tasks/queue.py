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
import signal
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from espalier.models import TaskResult
from espalier.tasks.runner import Transient, func_path, log_failure, run_job, run_rq_job

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
    merge: bool = False  # untracked, one list of ids: waiting twins may run as one call (in-process)

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

    def is_waiting(self, job_id: str) -> bool | None:
        """Whether a job is still waiting to start; None when the backend cannot tell."""
        return self.is_live(job_id)

    def claim(self, name: str, seconds: float) -> bool:
        """Whether this process may start the periodic job ``name`` now (one beat per period)."""
        return True

    def close(self) -> None:
        pass

    def defer(self, s: Session, func: Callable, *args: Any, name: str | None = None, track: bool = True,
              queue: str = "default", timeout: int = 600, merge: bool = False) -> TaskResult | None:
        """Run ``func(rt, *args)`` once ``s`` commits; tracked jobs get their task row now.

        ``merge``: ``args`` is one list of ids, and jobs of ``func`` waiting together may run
        as one call on the union of their lists (pushes of devices enrolling at once).
        """
        if merge and (track or len(args) != 1 or not isinstance(args[0], list)):
            raise ValueError("only an untracked job taking one list of ids can be merged")
        task = None
        if track:
            task = TaskResult(name=name or func.__name__, status="queued", func=func_path(func),
                              args=json.loads(json.dumps(list(args))), queue=queue, timeout=timeout)
            s.add(task)
            s.flush()
        job = Job(func, args, queue, task.id if task else None, timeout, merge=merge)
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

        # The worker logs the description: our job, not RQ's wrapper (args are ids, never secrets).
        options: dict[str, Any] = dict(job_timeout=job.timeout, result_ttl=600, failure_ttl=86400,
                                       description=f"{func_path(job.func)}{tuple(job.args)!r}"[:200])
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

    def _status(self, job_id: str):
        from rq.exceptions import NoSuchJobError
        from rq.job import Job as RQJob

        try:
            return RQJob.fetch(job_id, connection=self.redis).get_status(refresh=False)
        except NoSuchJobError:
            return None

    def is_live(self, job_id: str) -> bool | None:
        from rq.job import JobStatus

        return self._status(job_id) in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED)

    def is_waiting(self, job_id: str) -> bool | None:
        from rq.job import JobStatus

        return self._status(job_id) in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED)

    def claim(self, name: str, seconds: float) -> bool:
        # Every worker runs a beat; the first to set the key this period enqueues the job.
        return bool(self.redis.set(f"espalier:beat:{name}", "1", nx=True, px=max(1, int(seconds * 900))))

    def work(self, names: tuple[str, ...] | list[str], *, burst: bool = False) -> None:
        """Consume the queues ``names`` until SIGTERM or SIGINT (with ``burst``: until they are empty).

        RQ's work loop quits on a Redis failure (one while a job finishes, a restart) and its
        cleanup then raises again; a worker process that exited with it would stay dead. So
        a new RQ worker starts once Redis answers again. No fork per job (``SimpleWorker``):
        the APNs connections and the database pool live as long as the process.
        """
        from redis.exceptions import RedisError
        from rq import SimpleWorker

        class Worker(SimpleWorker):
            def handle_exception(self, job, *exc_info):
                if isinstance(exc_info[1], Transient):  # already said once by the job: no traceback
                    from rq.job_lifecycle import call_exception_handlers

                    log_failure(f"job {job.id}", exc_info[1])
                    call_exception_handlers(self._exc_handlers, job, *exc_info)
                else:
                    super().handle_exception(job, *exc_info)

        queues = [self.queues[n] for n in names]
        while True:
            worker = Worker(queues, connection=self.redis)
            failed = False
            try:
                worker.work(burst=burst, with_scheduler=False)
            except (RedisError, OSError) as exc:  # raised again by its cleanup (register_death)
                failed = True
                log.warning("RQ worker %s stopped on a Redis failure (%s: %s)", worker.name, type(exc).__name__, exc)
            if worker._shutdown_requested_date is not None:  # RQ's own SIGTERM/SIGINT handler ran: a clean stop
                return
            if burst and not failed:
                return
            if not self._wait_for_redis():
                return
            if failed:
                _stop_listener(worker)

    def _wait_for_redis(self, pause: float = 0.5) -> bool:
        """Wait until Redis answers; False when SIGTERM or SIGINT came meanwhile."""
        from redis.exceptions import RedisError

        stopping = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            logged = False
            while not stopping.is_set():
                try:
                    self.redis.ping()
                    log.info("Redis answers again; starting a new RQ worker")
                    return True
                except (RedisError, OSError) as exc:
                    if not logged:
                        log.warning("waiting for Redis (%s: %s)", type(exc).__name__, exc)
                        logged = True
                    stopping.wait(pause)
            return False
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

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


def _stop_listener(worker) -> None:
    """Stop the pubsub listener of a worker whose cleanup failed (it never unsubscribed): the
    listener reconnects and would otherwise hold a Redis connection and a thread for good."""
    thread, pubsub = worker.pubsub_thread, worker.pubsub
    if thread is None:
        return
    thread.stop()
    try:
        pubsub.unsubscribe()  # wakes the listener from its blocking read
    except Exception:  # noqa: BLE001 - best effort: it stops at its next read anyway
        pass
    thread.join(timeout=5)
    pubsub.close()


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
            twins = self._waiting_twins(job) if job.merge else []
            try:
                self._run(merged(job, twins) if twins else job)
            finally:
                for _ in (job, *twins):
                    self._q.task_done()

    def _waiting_twins(self, first: Job) -> list[Job]:
        """The mergeable jobs of ``first``'s function queued right behind it (order is kept)."""
        twins = []
        with self._q.mutex:
            waiting = self._q.queue
            while waiting and waiting[0] is not None and waiting[0].merge and waiting[0].func is first.func:
                twins.append(waiting.popleft())
        return twins

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


def merged(first: Job, twins: list[Job]) -> Job:
    """One job for ``first`` and its twins: the sorted union of their id lists."""
    ids = sorted({i for job in (first, *twins) for i in job.args[0]})
    return Job(first.func, (ids,), first.queue, timeout=first.timeout, merge=True)


def make_queue(settings) -> TaskQueue:
    return RQTaskQueue(settings["redis_url"]) if settings["redis_url"] else InProcessTaskQueue()
