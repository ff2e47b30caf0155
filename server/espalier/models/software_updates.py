"""Apple's software update catalogue (gdmf), OS update enforcements and what devices report.

``SoftwareUpdate`` is one entry of the feed (``PublicAssetSets``: ``public``; ``AssetSets``:
not; ``PublicBackgroundSecurityImprovements``: public, with an ``extra`` such as ``(a)``),
``SoftwareUpdateDeviceID`` the device ids it is offered to. An enforcement is Zentral's
SoftwareUpdateEnforcement: an explicit ``os_version`` by ``local_datetime``, or "the latest
below ``max_os_version``, ``delay_days`` after it was posted, at ``local_time``". Blueprints
list enforcements; tags narrow them (Zentral's choice rule, ``mdm/softwareupdate.py``).
``DeviceSoftwareUpdate`` is the device's own word on its updates (DDM status, inventory).
"""
from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Time, UniqueConstraint

from .base import Base, CreatedAt, IntPk, JsonValue, Mapped, UpdatedAt, mapped_column


class SoftwareUpdate(Base):
    __tablename__ = "software_updates"

    id: Mapped[IntPk]
    platform: Mapped[str] = mapped_column(String(64))
    major: Mapped[int]
    minor: Mapped[int]
    patch: Mapped[int]
    extra: Mapped[str] = mapped_column(String(32), default="")  # a Rapid Security Response: "(a)"
    prerequisite_build: Mapped[str] = mapped_column(String(32), default="")
    build: Mapped[str] = mapped_column(String(32), default="")
    public: Mapped[bool]
    posting_date: Mapped[date] = mapped_column(Date)
    expiration_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    @property
    def comparable_os_version(self) -> tuple:
        return (self.major, self.minor, self.patch, self.extra)

    @property
    def os_version(self) -> str:
        """As Apple writes it: ``17.1``, ``17.1.2``, ``17.1.2 (a)``."""
        text = f"{self.major}.{self.minor}" + (f".{self.patch}" if self.patch else "")
        return f"{text} {self.extra}" if self.extra else text


Index("ix_software_updates_version", SoftwareUpdate.platform, SoftwareUpdate.major, SoftwareUpdate.minor,
      SoftwareUpdate.patch)


class SoftwareUpdateDeviceID(Base):
    __tablename__ = "software_update_device_ids"
    __table_args__ = (UniqueConstraint("software_update_id", "device_id"),)

    id: Mapped[IntPk]
    software_update_id: Mapped[int] = mapped_column(ForeignKey("software_updates.id", ondelete="CASCADE"))
    device_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[CreatedAt]


class SoftwareUpdateEnforcement(Base):
    __tablename__ = "software_update_enforcements"

    id: Mapped[IntPk]
    name: Mapped[str] = mapped_column(String(256), unique=True)
    details_url: Mapped[str] = mapped_column(String(200), default="")
    platforms: Mapped[list] = mapped_column(JSON, default=list)
    # "latest": the newest update below max_os_version, delay_days after its posting, at local_time
    max_os_version: Mapped[str] = mapped_column(String(32), default="")
    delay_days: Mapped[int | None]
    local_time: Mapped[time | None] = mapped_column(Time)
    # one time: this version by this device-local date and time
    os_version: Mapped[str] = mapped_column(String(32), default="")
    build_version: Mapped[str] = mapped_column(String(32), default="")
    local_datetime: Mapped[datetime | None]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


class SoftwareUpdateEnforcementTag(Base):
    __tablename__ = "software_update_enforcement_tags"

    enforcement_id: Mapped[int] = mapped_column(ForeignKey("software_update_enforcements.id", ondelete="CASCADE"),
                                                primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True)


class BlueprintSoftwareUpdateEnforcement(Base):
    """A blueprint's enforcements (Zentral's ``Blueprint.software_update_enforcements``). An
    enforcement in use cannot be deleted (the service refuses; the foreign key backs it)."""

    __tablename__ = "blueprint_software_update_enforcements"

    blueprint_id: Mapped[int] = mapped_column(ForeignKey("blueprints.id", ondelete="CASCADE"), primary_key=True)
    enforcement_id: Mapped[int] = mapped_column(ForeignKey("software_update_enforcements.id"), primary_key=True,
                                                index=True)


class DeviceSoftwareUpdate(Base):
    """What a device said of its OS updates: its catalogue id (DeviceInformation
    ``SoftwareUpdateDeviceID`` or the ``softwareupdate.device-id`` status item) and the
    ``softwareupdate.*`` status items of its last DDM status reports."""

    __tablename__ = "device_software_updates"

    enrolled_device_id: Mapped[int] = mapped_column(ForeignKey("enrolled_devices.id", ondelete="CASCADE"),
                                                    primary_key=True)
    software_update_device_id: Mapped[str | None] = mapped_column(String(32))
    install_state: Mapped[str | None] = mapped_column(String(32))
    pending_os_version: Mapped[str | None] = mapped_column(String(32))
    pending_build_version: Mapped[str | None] = mapped_column(String(32))
    # a background security improvement: "(a)" on top of os_version (device.operating-system.supplemental)
    os_version: Mapped[str | None] = mapped_column(String(32))
    os_extra: Mapped[str | None] = mapped_column(String(16))
    failure_reason: Mapped[JsonValue]  # {"count", "reason", "timestamp"}
    install_reason: Mapped[JsonValue]  # ["system-security", ...]
    reported_at: Mapped[datetime | None]  # the last status report that named any of these
    updated_at: Mapped[UpdatedAt]
