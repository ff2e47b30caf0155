"""/api/task_result/<id>/: background work, in Zentral's shape (Celery's status words).

``status`` is PENDING (queued), STARTED, SUCCESS or FAILURE; ``unready`` says whether to
poll again; ``result`` comes once the task is ready. An unknown id is not an error, as in
Zentral: ``{"id", "status": "UNKNOWN", "unready": true}``. ``progress`` and ``error`` are
Espalier's additions.
"""
from __future__ import annotations

from typing import Any

from espalier.models import TaskResult

from . import operation
from .schemas import Out, TokenInfo

CELERY_STATUS = {"queued": "PENDING", "started": "STARTED", "finished": "SUCCESS", "failed": "FAILURE"}


class Task(Out):
    id: str
    name: str | None = None
    status: str
    unready: bool
    result: Any = None
    progress: Any = None
    error: str | None = None


def task(t: TaskResult) -> dict:
    status = CELERY_STATUS.get(t.status, "PENDING")
    out: dict[str, Any] = {"name": t.name, "id": t.id, "status": status, "unready": status in ("PENDING", "STARTED")}
    if not out["unready"]:
        out["result"] = t.result
    if t.progress is not None:
        out["progress"] = t.progress
    if t.error:
        out["error"] = t.error
    return out


@operation("GET", "/token_info/", response=TokenInfo)
def token_info(s):
    """The calling token: its user, name and permissions (any token; Espalier's own route)."""
    from flask import g

    from espalier.services import auth

    return auth.token_info(s, g.caller.token_id), 200


@operation("GET", "/task_result/<task_id>/", response=Task)
def task_result(s, task_id: str):
    """A task's status, and its result once it is ready."""
    row = s.get(TaskResult, task_id) if len(task_id) <= 36 else None
    if row is None:
        return {"id": task_id[:64], "status": "UNKNOWN", "unready": True}, 200
    return task(row), 200
