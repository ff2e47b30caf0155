"""Declarative base, naming convention and the shared column shapes."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Annotated

from sqlalchemy import JSON, DateTime, MetaData, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Naive UTC, the form the API prints (as Zentral does: no offset)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_uuid() -> str:
    return str(uuid.uuid4())


class SecretText(TypeDecorator):
    """A ``pki.secrets`` ciphertext bound to its row; never plaintext. Stored as text.

    Its own type so that ``secret_columns()`` (key rotation, migrations) finds every one.
    """

    impl = String
    cache_ok = True


IntPk = Annotated[int, mapped_column(primary_key=True)]
UuidStr = Annotated[str, mapped_column(String(36), default=new_uuid)]
Udid = Annotated[str, mapped_column(String(64))]
Secret = Annotated[str | None, mapped_column(SecretText)]
CreatedAt = Annotated[datetime, mapped_column(DateTime, default=utcnow, server_default=func.now())]
UpdatedAt = Annotated[datetime, mapped_column(DateTime, default=utcnow, onupdate=utcnow, server_default=func.now())]
JsonValue = Annotated[object | None, mapped_column(JSON)]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict: JSON, list: JSON}


def secret_columns() -> list[tuple[type, str]]:
    """(model, column name) of every encrypted column of every model."""
    found = []
    for mapper in Base.registry.mappers:
        for column in mapper.columns:
            if isinstance(column.type, SecretText):
                found.append((mapper.class_, column.key))
    return sorted(found, key=lambda item: (item[0].__tablename__, item[1]))


__all__ = ["Base", "IntPk", "UuidStr", "Udid", "Secret", "CreatedAt", "UpdatedAt", "JsonValue",
           "Mapped", "mapped_column", "utcnow", "new_uuid", "SecretText", "secret_columns"]
