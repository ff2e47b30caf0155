"""Results of background work, read by /api/task_result/<id>/ whichever queue ran it."""
from __future__ import annotations

from sqlalchemy import String, Text

from .base import Base, CreatedAt, JsonValue, Mapped, UpdatedAt, mapped_column, new_uuid

TASK_STATUSES = ("queued", "started", "finished", "failed")


class TaskResult(Base):
    __tablename__ = "task_results"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[JsonValue]
    result: Mapped[JsonValue]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]
