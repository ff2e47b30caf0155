"""Sweeps: the database is the source of truth, so work whose job was lost is started again.

A tracked task still ``queued`` whose job no longer waits in the queue (Redis restarted
without persistence, the enqueue failed after commit, a worker died as it took the job), or
``started`` with no heartbeat
for longer than its timeout (its worker was killed), is submitted again from the job and
arguments its row recorded. Jobs are safe to run twice; a task that keeps getting lost
fails after ``MAX_ATTEMPTS``. Lost pushes need no row: ``push.renotify_pending`` re-pushes
every device with pending commands. ``apps["espalier.mdm"]["sweeps"]["task_lost_after_seconds"]``
shortens both limits to one (tests, sites whose jobs are short): set it above the longest run
of any tracked job, or a slow job is started a second time while it still runs.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from espalier.models import TaskResult, utcnow
from espalier.models.tasks import UNFINISHED
from espalier.tasks.queue import Job
from espalier.tasks.runner import resolve

log = logging.getLogger(__name__)

QUEUED_GRACE = timedelta(seconds=60)  # a job normally starts well within this
STARTED_GRACE = timedelta(seconds=60)  # added to the job's timeout
MAX_ATTEMPTS = 5


def _lost_after(rt) -> timedelta | None:
    seconds = rt.settings.mdm["sweeps"]["task_lost_after_seconds"]
    return timedelta(seconds=seconds) if seconds else None


def _is_lost(rt, task: TaskResult, now) -> bool:
    lost_after = _lost_after(rt)
    if task.status == "started":
        # No sign of life (status or progress written) for longer than the job may run: its worker died.
        limit = lost_after or timedelta(seconds=task.timeout) + STARTED_GRACE
        return now - task.updated_at > limit
    # Still queued in the database but no longer waiting in the queue: the job is gone (Redis
    # restarted), or a worker took it and died before its first write (killed at that moment).
    return now - task.updated_at > (lost_after or QUEUED_GRACE) and rt.queue.is_waiting(task.id) is False


def redo_lost_tasks(rt, batch: int = 500) -> dict:
    now = utcnow()
    with rt.db.session() as s:
        tasks = list(s.scalars(select(TaskResult).where(TaskResult.status.in_(UNFINISHED),
                                                        TaskResult.updated_at < now - (_lost_after(rt) or QUEUED_GRACE))
                               .order_by(TaskResult.updated_at).limit(batch)))
    redone, failed = [], []
    for task in tasks:
        if not _is_lost(rt, task, now):
            continue
        try:
            func = resolve(task.func) if task.func else None
        except (ImportError, AttributeError):
            func = None
        with rt.db.session() as s, s.begin():
            if func is None or task.attempts >= MAX_ATTEMPTS:
                reason = "its job is unknown" if func is None else f"lost {task.attempts} times"
                s.execute(update(TaskResult).where(TaskResult.id == task.id, TaskResult.status.in_(UNFINISHED))
                          .values(status="failed", error=f"lost: {reason}", updated_at=now))
                failed.append(task.id)
                continue
            claimed = s.execute(update(TaskResult).where(TaskResult.id == task.id,
                                                         TaskResult.updated_at == task.updated_at)
                                .values(status="queued", updated_at=now)).rowcount
        if not claimed:  # another sweep, or the job itself, touched it meanwhile
            continue
        log.warning("task %s (%s) was lost while %s; starting it again", task.id, task.name, task.status)
        rt.queue.submit_after_commit(Job(func, tuple(task.args or ()), task.queue, task.id, task.timeout))
        redone.append(task.id)
    return {"redone": len(redone), "failed": len(failed)}
