"""Stored audit events: record one in the caller's transaction, list them.

Operator actions are recorded by the services that do them, whichever door they came
through (the API, the console, the command line): a reveal of an escrowed secret, a device
blocked, unblocked or released, a command queued, a serial or UDID blocked before it enrolls.
A reveal records its event in the transaction that read the secret, so there is no reveal
without its event (the commit that stores it comes before the answer). Each event is also a
line of the ``espalier.audit`` log. Neither ever holds a secret (a PIN, a command's arguments).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from espalier.models import ApiToken, AuditEvent, User
from espalier.services import paging
from espalier.services.paging import CountCache

log = logging.getLogger("espalier.audit")

DEVICE = "enrolleddevice"
BLOCKED_DEVICE = "blockeddevice"


@dataclass(frozen=True)
class Actor:
    """Who did it: the API token and its user (the username is read and kept with the event)."""

    token_id: int | None
    user_id: int | None


COMMAND_LINE = Actor(token_id=None, user_id=None)  # ``espalier`` on the server: no token, no user


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
    log.info("%s by token %s (user %s): %s %s %s", action, actor.token_id, user_id, object_type, object_id,
             " ".join(f"{k}={v}" for k, v in details.items()))
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
