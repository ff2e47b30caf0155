"""Runs one job with its runtime and records a tracked job's outcome in task_results.

``run_job`` is what the in-process queue calls; ``run_rq_job`` is the function RQ
executes. RQ runs it in a worker process, whose runtime ``espalier worker`` builds and
hands over with ``serve_runtime`` (that process's composition root; jobs still receive
the runtime as their first argument and never look it up).
"""
from __future__ import annotations

import importlib
import logging
from typing import Any, Callable

from sqlalchemy import update

from espalier.models import TaskResult, utcnow

log = logging.getLogger(__name__)

_worker_runtime = None


class Transient(Exception):
    """An expected failure (a service down) that its job already logged: retried, no traceback."""


def log_failure(what: str, exc: BaseException) -> None:
    """One line for a Transient failure, a traceback for anything else (a bug)."""
    if isinstance(exc, Transient):
        log.info("%s will be retried: %s", what, exc)
    else:
        log.error("%s failed", what, exc_info=exc)


def func_path(func: Callable) -> str:
    """``module:qualname``: how a task row remembers its job (for the lost-task sweep)."""
    return f"{func.__module__}:{func.__qualname__}"


def resolve(path: str) -> Callable:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def serve_runtime(rt) -> None:
    """The runtime the RQ jobs of this worker process run with."""
    global _worker_runtime
    _worker_runtime = rt


def worker_runtime() -> Any:
    """The runtime of this worker process (built from ESPALIER_SETTINGS if none was served)."""
    global _worker_runtime
    if _worker_runtime is None:  # rq started by hand: build from ESPALIER_SETTINGS once
        import os

        from espalier.runtime import build
        from espalier.settings import load

        _worker_runtime = build(load(os.environ.get("ESPALIER_SETTINGS")))
    return _worker_runtime


def _set(rt, task_id: str, **values) -> bool:
    with rt.db.session() as s, s.begin():
        return s.execute(update(TaskResult).where(TaskResult.id == task_id)
                         .values(updated_at=utcnow(), **values)).rowcount == 1


def run_job(rt, func: Callable, task_id: str | None, args: tuple | list):
    """Run ``func(rt, *args)``; for a tracked job, record started, finished or failed."""
    if task_id is None:
        return func(rt, *args)
    if not _set(rt, task_id, status="started", started_at=utcnow(), attempts=TaskResult.attempts + 1):
        log.warning("task %s has no row any more; %s not run", task_id, func_path(func))
        return None
    try:
        result = func(rt, *args)
    except Exception as exc:
        _set(rt, task_id, status="failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        if not isinstance(exc, Transient):
            log_failure(f"task {task_id} ({func_path(func)})", exc)
        raise
    _set(rt, task_id, status="finished", result=result)
    return result


def run_rq_job(func: Callable, task_id: str | None, args: tuple | list):
    """The function RQ executes (``func`` travels pickled by reference)."""
    return run_job(worker_runtime(), func, task_id, args)

