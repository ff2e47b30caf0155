"""Background work: RQ on Redis when a Redis URL is configured, else an in-process worker thread.

Both run the same job functions through ``runner.run_job``, and both record progress in
the ``task_results`` table, so ``/api/task_result/<id>/`` does not care which ran it.
Jobs are enqueued only after the caller's transaction commits (``defer``), so a job never
starts before the rows it reads exist, and a rolled back request enqueues nothing.
"""
from __future__ import annotations

import logging
import queue as stdlib_queue
import threading
from typing import Any, Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from espalier.models import TaskResult
from espalier.tasks.runner import func_path, run_job

log = logging.getLogger(__name__)

QUEUES = ("default", "push", "sync")


class RQTaskQueue:
    """RQ queues named by purpose; ``espalier worker`` consumes them."""

    def __init__(self, redis_url: str):
        from redis import Redis
        from rq import Queue

        self.redis = Redis.from_url(redis_url)
        self.queues = {name: Queue(f"espalier:{name}", connection=self.redis) for name in QUEUES}

    def submit(self, path: str, task_id: str | None, args: tuple, queue: str = "default",
               job_id: str | None = None, timeout: int = 600) -> None:
        from rq import Retry

        kwargs: dict[str, Any] = dict(job_timeout=timeout, result_ttl=3600, failure_ttl=86400)
        if job_id:
            kwargs.update(job_id=job_id, unique=True)
        if task_id is None:  # untracked jobs (pushes) retry on their own
            kwargs["retry"] = Retry(max=3, interval=[10, 30, 60])
        try:
            self.queues[queue].enqueue(run_job, path, task_id, args, **kwargs)
        except Exception as exc:  # rq raises DuplicateJobError for a unique job already queued
            if type(exc).__name__ != "DuplicateJobError":
                raise
            log.debug("job %s already queued", job_id)

    def submit_in(self, delay: float, path: str, args: tuple, queue: str = "default") -> None:
        """Run an untracked job after ``delay`` seconds (the worker runs RQ's scheduler)."""
        from datetime import timedelta

        self.queues[queue].enqueue_in(timedelta(seconds=delay), run_job, path, None, args,
                                      result_ttl=3600, failure_ttl=86400)

    def close(self) -> None:
        self.redis.close()


class InProcessTaskQueue:
    """One daemon thread running jobs in order: the embedded default needs no other server.

    ``sync=True`` runs each job right after commit in the caller's thread (tests).
    """

    def __init__(self, sync: bool = False):
        self.sync = sync
        self._q: stdlib_queue.Queue = stdlib_queue.Queue()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, path: str, task_id: str | None, args: tuple, queue: str = "default",
               job_id: str | None = None, timeout: int = 600) -> None:
        if job_id:
            with self._lock:
                if job_id in self._pending:
                    return
                self._pending.add(job_id)
        if self.sync:
            self._run(path, task_id, args, job_id)
            return
        self._ensure_thread()
        self._q.put((path, task_id, args, job_id))

    def submit_in(self, delay: float, path: str, args: tuple, queue: str = "default") -> None:
        """Run an untracked job after ``delay`` seconds, on a timer thread."""
        timer = threading.Timer(delay, self.submit, (path, None, args), {"queue": queue})
        timer.daemon = True
        timer.start()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="espalier-jobs", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            try:
                self._run(*item)
            finally:
                self._q.task_done()

    def _run(self, path, task_id, args, job_id) -> None:
        if job_id:
            with self._lock:
                self._pending.discard(job_id)
        try:
            run_job(path, task_id, args)
        except Exception:  # recorded in task_results by run_job; the thread must survive
            log.exception("job %s failed", path)

    def join(self) -> None:
        """Wait until every queued job has run (tests, shutdown)."""
        self._q.join()

    def close(self) -> None:
        if self._thread and self._thread.is_alive():
            self._q.put(None)
            self._thread.join(timeout=5)


TaskQueue = RQTaskQueue | InProcessTaskQueue


def make_queue(settings) -> TaskQueue:
    return RQTaskQueue(settings["redis_url"]) if settings["redis_url"] else InProcessTaskQueue()


def defer(s: Session, func: Callable | str, *args, name: str | None = None, track: bool = True,
          queue: str = "default", job_id: str | None = None) -> TaskResult | None:
    """Enqueue ``func(*args)`` once ``s`` commits. Tracked jobs get a task_results row now.

    ``func`` is a module-level function or its ``"module:name"`` path.
    """
    from espalier.runtime import current

    task = None
    if track:
        task = TaskResult(name=name or str(getattr(func, "__name__", func)), status="queued")
        s.add(task)
        s.flush()
    path, task_id = func if isinstance(func, str) else func_path(func), task.id if task else None
    q = current().queue

    def after_commit(_session) -> None:
        q.submit(path, task_id, args, queue=queue, job_id=job_id)

    event.listen(s, "after_commit", after_commit, once=True)
    return task
