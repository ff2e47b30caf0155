"""Runs one job by dotted path and records its outcome in task_results."""
from __future__ import annotations

import importlib
import logging
import traceback
from typing import Callable

from sqlalchemy import update

from espalier.models import TaskResult, utcnow

log = logging.getLogger(__name__)


def func_path(func: Callable) -> str:
    return f"{func.__module__}:{func.__qualname__}"


def resolve(path: str) -> Callable:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _set(task_id: str, **values) -> None:
    from espalier.runtime import current

    with current().db.session() as s, s.begin():
        s.execute(update(TaskResult).where(TaskResult.id == task_id).values(updated_at=utcnow(), **values))


def run_job(path: str, task_id: str | None, args: tuple):
    """The function RQ (or the in-process thread) executes."""
    _ensure_runtime()
    func = resolve(path)
    if task_id is None:
        return func(*args)
    _set(task_id, status="started")
    try:
        result = func(*args)
    except Exception as exc:
        _set(task_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        log.error("task %s (%s) failed\n%s", task_id, path, traceback.format_exc())
        raise
    _set(task_id, status="finished", result=result)
    return result


def _ensure_runtime() -> None:
    """RQ forks a work horse per job; the runtime built by `espalier worker` is inherited."""
    from espalier import runtime

    if runtime._current is None:  # e.g. rq started by hand: build from ESPALIER_SETTINGS
        import os

        from espalier.settings import load
        runtime.build(load(os.environ.get("ESPALIER_SETTINGS")))
