"""The two reads every API collection makes: one row by primary key (DRF's 404 text), a listing by name."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from espalier.services.errors import NotFound


def get_or_404(s: Session, model: type, pk, label: str | None = None):
    row = s.get(model, pk)
    if row is None:
        raise NotFound(f"No {label or model.__name__} matches the given query.")
    return row


def by_name(s: Session, model: type, name: str | None, *order) -> list:
    """Every row in ``order``, or those named ``name`` (DRF's ``filterset_fields = ('name',)``)."""
    stmt = select(model).order_by(*order)
    if name is not None:
        stmt = stmt.where(model.name == name)
    return list(s.scalars(stmt))
