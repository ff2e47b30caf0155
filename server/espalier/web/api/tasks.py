"""/api/task_result/<id>/: status, progress and result of background work."""
from __future__ import annotations

from espalier.models import TaskResult
from espalier.services.errors import NotFound

from . import api_view, bp, serializers


@bp.get("/task_result/<task_id>/")
@api_view()
def task_result(s, task_id: str):
    """A task's status (queued, started, finished, failed), progress, result and error."""
    task = s.get(TaskResult, task_id) if len(task_id) <= 36 else None
    if task is None:
        raise NotFound(f"no task {task_id}")
    return serializers.task(task), 200
