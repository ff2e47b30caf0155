"""Automated Device Enrollment (ABM/ASM "DEP"): server tokens, virtual servers, their devices.

A ``DEPToken`` is first a key pair (its certificate is uploaded to ABM), then, once the
downloaded ``*_smime.p7m`` is opened with that key, the OAuth credentials. The token row
is the virtual server's for good: renewing puts a new key pair on it and replaces the
credentials, so the server, its devices and its cursor stay. Its expiry state is read
like a push certificate's (days left, expiring within 30 days, expired).

The sync state (cursor and the claim that keeps two syncs of one server apart) lives on
``DEPVirtualServer``; devices are never deleted by a sync, only marked (``last_op_type``
``deleted``). ``DEPDevice.enrollment_id`` will point at the DEP enrollment (profile) rows
when they come; ``profile_uuid`` is Apple's.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, String, Text

from .base import Base, CreatedAt, IntPk, Mapped, Secret, UpdatedAt, mapped_column, utcnow

EXPIRY_WARNING = timedelta(days=30)
OP_TYPES = ("added", "modified", "deleted")


class DEPOrganization(Base):
    __tablename__ = "dep_organizations"

    id: Mapped[IntPk]
    identifier: Mapped[str] = mapped_column(String(128), unique=True)  # Apple's org_id
    name: Mapped[str] = mapped_column(String(256))
    admin_id: Mapped[str] = mapped_column(String(256), default="")
    email: Mapped[str] = mapped_column(String(256), default="")
    phone: Mapped[str] = mapped_column(String(256), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(16), default="")  # edu | org
    version: Mapped[str] = mapped_column(String(16), default="")  # v1 | v2
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


class DEPToken(Base):
    __tablename__ = "dep_tokens"

    id: Mapped[IntPk]
    certificate: Mapped[str] = mapped_column(Text)  # PEM, the one uploaded to ABM
    private_key: Mapped[Secret]  # PEM of the key the p7m is encrypted to
    consumer_key: Mapped[str | None] = mapped_column(String(256))
    consumer_secret: Mapped[Secret]
    access_token: Mapped[Secret]
    access_secret: Mapped[Secret]
    access_token_expiry: Mapped[datetime | None]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    @property
    def has_credentials(self) -> bool:
        return self.consumer_key is not None and self.access_token is not None

    def days_left(self, now: datetime | None = None) -> int | None:
        return None if self.access_token_expiry is None else (self.access_token_expiry - (now or utcnow())).days

    def is_expiring(self, now: datetime | None = None) -> bool:
        """Within 30 days of expiry (or expired): time to renew in ABM."""
        return self.access_token_expiry is not None and self.access_token_expiry - (now or utcnow()) <= EXPIRY_WARNING

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.access_token_expiry is not None and self.access_token_expiry <= (now or utcnow())


class DEPVirtualServer(Base):
    __tablename__ = "dep_virtual_servers"

    id: Mapped[IntPk]
    name: Mapped[str] = mapped_column(String(256))
    uuid: Mapped[str] = mapped_column(String(64), unique=True)  # Apple's server_uuid
    organization_id: Mapped[int] = mapped_column(ForeignKey("dep_organizations.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("dep_tokens.id"), unique=True)
    # sync state: the cursor is written in the transaction of the devices it covers
    cursor: Mapped[str | None] = mapped_column(Text)
    cursor_kind: Mapped[str | None] = mapped_column(String(8))  # fetch (a full fetch under way) | sync
    fetch_started_at: Mapped[datetime | None]  # rows not seen since then are gone when a fetch completes
    last_synced_at: Mapped[datetime | None]
    # the claim of the one sync running for this server (a conditional UPDATE: PostgreSQL and SQLite alike)
    sync_claim: Mapped[str | None] = mapped_column(String(36))
    sync_task_id: Mapped[str | None] = mapped_column(String(36))
    sync_claimed_at: Mapped[datetime | None]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


class DEPDevice(Base):
    __tablename__ = "dep_devices"

    id: Mapped[IntPk]
    virtual_server_id: Mapped[int] = mapped_column(ForeignKey("dep_virtual_servers.id"))
    serial_number: Mapped[str] = mapped_column(String(64), unique=True)
    asset_tag: Mapped[str | None] = mapped_column(String(256))
    color: Mapped[str | None] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(String(256))
    device_family: Mapped[str | None] = mapped_column(String(256))
    model: Mapped[str | None] = mapped_column(String(256))
    os: Mapped[str | None] = mapped_column(String(256))
    device_assigned_by: Mapped[str | None] = mapped_column(String(256))
    device_assigned_date: Mapped[datetime | None]
    last_op_type: Mapped[str | None] = mapped_column(String(16))
    last_op_date: Mapped[datetime | None]
    profile_status: Mapped[str | None] = mapped_column(String(16))
    profile_uuid: Mapped[str | None] = mapped_column(String(64))
    profile_assign_time: Mapped[datetime | None]
    profile_push_time: Mapped[datetime | None]
    enrollment_id: Mapped[int | None]  # the DEP enrollment (profile) row, once those exist
    fetched_at: Mapped[datetime | None]  # last seen in a full fetch
    disowned_at: Mapped[datetime | None]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


Index("ix_dep_devices_virtual_server", DEPDevice.virtual_server_id, DEPDevice.fetched_at)
Index("ix_dep_devices_created_at", DEPDevice.created_at)
