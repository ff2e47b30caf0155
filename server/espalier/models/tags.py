"""Inventory tags and the tags of machines (by serial number, as Zentral tags machines).

A taxonomy is a name (machine tag operations name it); meta business units are plain
nullable ids: Espalier has no business units to hang them on (README, compatibility table).
"""
from __future__ import annotations

from sqlalchemy import ForeignKey, String

from .base import Base, IntPk, Mapped, mapped_column

DEFAULT_COLOR = "0079bf"


class Taxonomy(Base):
    __tablename__ = "taxonomies"

    id: Mapped[IntPk]
    name: Mapped[str] = mapped_column(String(256), unique=True)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[IntPk]
    taxonomy_id: Mapped[int | None] = mapped_column(ForeignKey("taxonomies.id", ondelete="SET NULL"))
    meta_business_unit: Mapped[int | None]
    name: Mapped[str] = mapped_column(String(50), unique=True)
    color: Mapped[str] = mapped_column(String(6), default=DEFAULT_COLOR)


class MachineTag(Base):
    __tablename__ = "machine_tags"

    serial_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True)
