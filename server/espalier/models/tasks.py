"""Results of background work, read by /api/task_result/<id>/ whichever queue ran it.

A row also remembers which job it is (``func``, ``args``, ``queue``), so the lost-task
sweep can run a job again when its queue lost it: the database, not Redis, is the source
of truth for work that was asked for.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text

from .base import Base, CreatedAt, JsonValue, Mapped, UpdatedAt, mapped_column, new_uuid

UNFINISHED = ("queued", "started")


class TaskResult(Base):
    __tablename__ = "task_results"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    func: Mapped[str | None] = mapped_column(String(200))  # module:qualname of the job
    args: Mapped[JsonValue]
    queue: Mapped[str] = mapped_column(String(32), default="default")
    timeout: Mapped[int] = mapped_column(default=600)
    attempts: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None]
    progress: Mapped[JsonValue]
    result: Mapped[JsonValue]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


# The lost-task sweep reads only unfinished rows.
Index("ix_task_results_unfinished", TaskResult.updated_at,
      postgresql_where=TaskResult.status.in_(UNFINISHED), sqlite_where=TaskResult.status.in_(UNFINISHED))
