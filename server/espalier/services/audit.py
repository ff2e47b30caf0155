"""Stored audit events: record one in the caller's transaction, list them.

A reveal of an escrowed secret records its event in the transaction that read the secret,
so there is no reveal without its event (the commit that stores it comes before the answer).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from espalier.models import ApiToken, AuditEvent, User
from espalier.services import paging
from espalier.services.paging import CountCache

DEVICE = "enrolleddevice"


@dataclass(frozen=True)
class Actor:
    """Who did it: the API token and its user (the username is read and kept with the event)."""

    token_id: int | None
    user_id: int | None


def record(s: Session, actor: Actor, action: str, object_type: str, object_id, **details: Any) -> AuditEvent:
    """Add the event (flushed) to the caller's transaction; the user is the token's when not given."""
    user_id, username = actor.user_id, None
    if user_id is None and actor.token_id is not None:
        user_id = s.scalar(select(ApiToken.user_id).where(ApiToken.id == actor.token_id))
    if user_id is not None:
        username = s.scalar(select(User.username).where(User.id == user_id))
    event = AuditEvent(action=action, token_id=actor.token_id, user_id=user_id, username=username,
                       object_type=object_type, object_id=str(object_id), details=details)
    s.add(event)
    s.flush()
    return event


def list_events(s: Session, *, enrolled_device: int | None = None, action: str | None = None,
                limit: int | None = None, offset: int = 0, counts: CountCache | None = None
                ) -> tuple[list[AuditEvent], int | None]:
    """Newest first; the total only when paginating (``services.paging``)."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc())
    if enrolled_device is not None:
        stmt = stmt.where(AuditEvent.object_type == DEVICE, AuditEvent.object_id == str(enrolled_device))
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    if limit is None:
        return list(s.scalars(stmt)), None
    rows = list(s.scalars(stmt.limit(limit + 1).offset(offset)))
    count = stmt.with_only_columns(func.count(AuditEvent.id)).order_by(None)
    return paging.page(rows, limit, offset, lambda: s.scalar(count), counts,
                       ("audit_events", enrolled_device, action))
