"""Blueprints: what a group of devices should have. Devices point at one."""
from __future__ import annotations

from sqlalchemy import String

from .base import Base, CreatedAt, IntPk, Mapped, UpdatedAt, mapped_column


class Blueprint(Base):
    __tablename__ = "blueprints"

    id: Mapped[IntPk]
    name: Mapped[str] = mapped_column(String(256), unique=True)
    inventory_interval: Mapped[int] = mapped_column(default=86400)  # seconds between automatic inventories
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]
