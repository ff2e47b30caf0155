"""Audit events: who did what to which object, stored (escrowed secrets revealed, devices released).

Generic on purpose: ``object_type`` is the model's name as in the permission codenames
(``enrolleddevice``), ``object_id`` its primary key as text; ``details`` never holds a secret.
"""
from __future__ import annotations

from sqlalchemy import JSON, Index, String

from .base import Base, CreatedAt, IntPk, Mapped, mapped_column


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[IntPk]
    action: Mapped[str] = mapped_column(String(64))
    token_id: Mapped[int | None]  # no foreign key: the record outlives the token and its user
    user_id: Mapped[int | None]
    username: Mapped[str | None] = mapped_column(String(150))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[CreatedAt]


Index("ix_audit_events_object", AuditEvent.object_type, AuditEvent.object_id, AuditEvent.id)
Index("ix_audit_events_action", AuditEvent.action, AuditEvent.id)
