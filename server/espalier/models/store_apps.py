"""Store apps: an App Store app as a blueprint artifact, and the licences it waits for.

A ``StoreApp`` is one version of a "Store App" artifact: the app (a ``LocationAsset``, so
the location that licenses it is chosen with it) and how InstallApplication installs it.
A ``LicenceRequest`` is a device licence we still need from Apple (ASSOCIATE before the
install) or no longer want (DISASSOCIATE after the removal). The row is the work: a job
(``tasks.licences``) sends the due ones in batches, the assignment arriving (notification
or sync) deletes the ASSOCIATE row and wakes the device; a failure is retried with backoff
and ends, after ``MAX_ATTEMPTS``, as a failed artifact on the device.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from .apps_books import LocationAsset
from .base import Base, CreatedAt, IntPk, Mapped, Secret, UpdatedAt, mapped_column

LICENCE_KINDS = ("ASSOCIATE", "DISASSOCIATE")
LICENCE_STATUSES = ("queued", "requested", "failed")


class StoreApp(Base):
    __tablename__ = "store_apps"

    id: Mapped[IntPk]
    artifact_version_id: Mapped[str] = mapped_column(ForeignKey("artifact_versions.id", ondelete="CASCADE"),
                                                     unique=True)
    # an asset in use by an artifact stays (Zentral: PROTECT)
    location_asset_id: Mapped[int] = mapped_column(ForeignKey("location_assets.id", ondelete="RESTRICT"), index=True)
    associated_domains: Mapped[list] = mapped_column(JSON, default=list)
    associated_domains_enable_direct_downloads: Mapped[bool] = mapped_column(default=False)
    # the managed app configuration, a plist dictionary as text: encrypted (it carries credentials)
    configuration: Mapped[Secret]
    content_filter_uuid: Mapped[str | None] = mapped_column(String(36))
    dns_proxy_uuid: Mapped[str | None] = mapped_column(String(36))
    vpn_uuid: Mapped[str | None] = mapped_column(String(36))
    prevent_backup: Mapped[bool] = mapped_column(default=False)
    removable: Mapped[bool] = mapped_column(default=False)
    remove_on_unenroll: Mapped[bool] = mapped_column(default=True)

    artifact_version = relationship("ArtifactVersion", back_populates="store_app")
    location_asset: Mapped[LocationAsset] = relationship(lazy="joined")

    def management_flags(self) -> int:
        """InstallApplication's ManagementFlags: 1 remove with the MDM profile, 4 no backup."""
        return (1 if self.remove_on_unenroll else 0) | (4 if self.prevent_backup else 0)


class LicenceRequest(Base):
    __tablename__ = "licence_requests"
    __table_args__ = (UniqueConstraint("location_asset_id", "serial_number"),)

    id: Mapped[IntPk]
    location_asset_id: Mapped[int] = mapped_column(ForeignKey("location_assets.id", ondelete="CASCADE"))
    serial_number: Mapped[str] = mapped_column(String(64))
    enrolled_device_id: Mapped[int | None] = mapped_column(ForeignKey("enrolled_devices.id", ondelete="SET NULL"),
                                                           index=True)
    artifact_version_id: Mapped[str | None] = mapped_column(
        ForeignKey("artifact_versions.id", ondelete="SET NULL"), index=True)  # what waits for it
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    event_id: Mapped[str | None] = mapped_column(String(128), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


# The job reads only the queued rows that are due.
Index("ix_licence_requests_due", LicenceRequest.next_attempt_at,
      postgresql_where=LicenceRequest.status == "queued", sqlite_where=LicenceRequest.status == "queued")
