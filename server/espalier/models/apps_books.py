"""Apps and Books: locations (one sToken each), their assets, licence counts and device
assignments, the notifications Apple sent us and the licence events we asked for.

An ``Asset`` (adam id + pricing param) is global: the same app bought in two locations is
one asset with two ``LocationAsset`` rows. A Store App artifact references the ``Asset``;
which location licenses it for a device is decided when the licence is associated.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint

from .base import Base, CreatedAt, IntPk, JsonValue, Mapped, Secret, UpdatedAt, mapped_column, utcnow
from .push import EXPIRY_WARNING


class Location(Base):
    __tablename__ = "locations"

    id: Mapped[IntPk]
    # the token (the .vpptoken content, as downloaded): encrypted, and a keyed hash to find it
    server_token: Mapped[Secret]
    server_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    server_token_expiration_date: Mapped[datetime]
    organization_name: Mapped[str] = mapped_column(Text)
    # Apple's client config
    name: Mapped[str] = mapped_column(Text)
    country_code: Mapped[str] = mapped_column(String(2))
    library_uid: Mapped[str] = mapped_column(String(256), unique=True)
    platform: Mapped[str] = mapped_column(String(64))
    website_url: Mapped[str] = mapped_column(Text)
    # set by us when claiming the location: who we are to Apple, and how Apple proves itself to us
    mdm_info_id: Mapped[str] = mapped_column(String(36), unique=True)
    notification_auth_token: Mapped[Secret]
    # one sync at a time (tasks.apps_books): who holds it and since when
    sync_lock: Mapped[str | None] = mapped_column(String(36))
    sync_locked_at: Mapped[datetime | None]
    last_sync_at: Mapped[datetime | None]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    def days_left(self, now: datetime | None = None) -> int:
        return (self.server_token_expiration_date - (now or utcnow())).days

    def is_expiring(self, now: datetime | None = None) -> bool:
        """Within 30 days of expiry (or expired): time to download a new token (as push certificates)."""
        return self.server_token_expiration_date - (now or utcnow()) <= EXPIRY_WARNING

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.server_token_expiration_date <= (now or utcnow())


class Asset(Base):
    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("adam_id", "pricing_param"),)

    id: Mapped[IntPk]
    adam_id: Mapped[str] = mapped_column(String(64))
    pricing_param: Mapped[str] = mapped_column(String(16))
    product_type: Mapped[str] = mapped_column(String(16))  # App | Book
    device_assignable: Mapped[bool]
    revocable: Mapped[bool]
    supported_platforms: Mapped[list] = mapped_column(JSON, default=list)
    metadata_: Mapped[JsonValue] = mapped_column("metadata", JSON)
    name: Mapped[str | None] = mapped_column(Text)
    bundle_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


class LocationAsset(Base):
    __tablename__ = "location_assets"
    __table_args__ = (UniqueConstraint("asset_id", "location_id"),)

    id: Mapped[IntPk]
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"), index=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    assigned_count: Mapped[int] = mapped_column(default=0)
    available_count: Mapped[int] = mapped_column(default=0)
    retired_count: Mapped[int] = mapped_column(default=0)
    total_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


class DeviceAssignment(Base):
    __tablename__ = "device_assignments"
    __table_args__ = (UniqueConstraint("location_asset_id", "serial_number"),)

    id: Mapped[IntPk]
    location_asset_id: Mapped[int] = mapped_column(ForeignKey("location_assets.id", ondelete="CASCADE"))
    serial_number: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[CreatedAt]


class AppsBooksNotification(Base):
    """A notification Apple sent us, kept to answer its retries without acting twice."""

    __tablename__ = "apps_books_notifications"
    __table_args__ = (UniqueConstraint("location_id", "notification_id"),)

    id: Mapped[IntPk]
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    notification_id: Mapped[str] = mapped_column(String(128))
    notification_type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[CreatedAt]


EVENT_STATUSES = ("PENDING", "COMPLETE", "FAILED")


class AppsBooksEvent(Base):
    """An associate or disassociate we asked for: its notification, or polling ``status``, ends it."""

    __tablename__ = "apps_books_events"
    __table_args__ = (UniqueConstraint("location_id", "event_id"),)

    id: Mapped[IntPk]
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # ASSOCIATE | DISASSOCIATE
    status: Mapped[str] = mapped_column(String(16), default="PENDING")
    assets: Mapped[list] = mapped_column(JSON, default=list)  # [{"adamId", "pricingParam"}]
    serial_numbers: Mapped[list] = mapped_column(JSON, default=list)
    failures: Mapped[JsonValue]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


# The poller reads only pending events.
Index("ix_apps_books_events_pending", AppsBooksEvent.updated_at,
      postgresql_where=AppsBooksEvent.status == "PENDING", sqlite_where=AppsBooksEvent.status == "PENDING")
