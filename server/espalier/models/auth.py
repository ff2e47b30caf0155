"""Operators and their API tokens. Token keys are stored as SHA-256 hashes only."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import relationship

from .base import Base, CreatedAt, IntPk, Mapped, mapped_column


class User(Base):
    __tablename__ = "users"

    id: Mapped[IntPk]
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(255))  # argon2id; console login only
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[CreatedAt]

    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="user")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[IntPk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(150), default="")
    prefix: Mapped[str] = mapped_column(String(8), index=True)  # shown in listings, used to revoke
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[CreatedAt]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")
    permissions: Mapped[list["ApiTokenPermission"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin")

    @property
    def codenames(self) -> frozenset[str]:
        return frozenset(p.codename for p in self.permissions)


class ApiTokenPermission(Base):
    __tablename__ = "api_token_permissions"

    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True)
    codename: Mapped[str] = mapped_column(String(100), primary_key=True)
