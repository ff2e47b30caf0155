"""Blueprints, artifacts and their versions: what a group of devices should have.

A device points at one blueprint. A blueprint lists artifacts (``BlueprintArtifact``),
each scoped by platform, OS version, tags and shards; an artifact has versions
(``ArtifactVersion``, scoped the same way), the newest in-scope one is what a device gets.
A profile version carries its ``.mobileconfig`` (``Profile``), a declaration version its
DDM declaration (``Declaration``, its twin), a store app version its app (``StoreApp``,
models/store_apps.py). ``DeviceArtifact`` is the
state of one version on one device. Excluded tags and tag shards are JSON lists of tag ids
(``[{"tag": id, "shard": n}]``) so that scoping reads them with the row, no join per item.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import relationship

from .security_configs import FileVaultConfig, RecoveryPasswordConfig

from .base import Base, CreatedAt, IntPk, JsonValue, Mapped, Secret, UpdatedAt, UuidStr, mapped_column

if TYPE_CHECKING:
    from .store_apps import StoreApp

PLATFORMS = ("iOS", "iPadOS", "macOS", "tvOS")  # Zentral's Platform values; fields are their lower case
CHANNELS = ("Device", "User")
# Declaration artifacts: the kind of their declarations (the word after ``com.apple.``).
DECLARATION_KINDS = {"Activation": "activation", "Asset": "asset", "Configuration": "configuration",
                     "Management": "management"}
STORE_APP = "Store App"
ARTIFACT_TYPES = ("Profile", *DECLARATION_KINDS, STORE_APP)
REINSTALL_ON_OS_UPDATE = ("No", "Major", "Minor", "Patch")
COLLECTION_OPTIONS = (0, 1, 2)  # no, managed only, all
STATUSES = ("pending", "installed", "failed", "removed")


class Blueprint(Base):
    __tablename__ = "blueprints"

    id: Mapped[IntPk]
    name: Mapped[str] = mapped_column(String(256), unique=True)
    inventory_interval: Mapped[int] = mapped_column(default=86400)  # seconds between automatic inventories
    collect_apps: Mapped[int] = mapped_column(default=0, server_default="0")
    collect_certificates: Mapped[int] = mapped_column(default=0, server_default="0")
    collect_profiles: Mapped[int] = mapped_column(default=0, server_default="0")
    # profiles as com.apple.configuration.legacy declarations to DDM-capable devices (mdm/legacy_profiles.py)
    legacy_profiles_via_ddm: Mapped[bool] = mapped_column(default=True, server_default="0")
    # declaration artifacts listed (kept by services/declarations.recount): 0 = no DDM work, no query
    declaration_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # store app artifacts listed (kept by the same recount): 0 = no store app work, no query
    store_app_count: Mapped[int] = mapped_column(default=0, server_default="0")
    filevault_config_id: Mapped[int | None] = mapped_column(ForeignKey("filevault_configs.id"), index=True)
    recovery_password_config_id: Mapped[int | None] = mapped_column(ForeignKey("recovery_password_configs.id"),
                                                                    index=True)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    # Joined: the scheduling steps read the blueprint once (``ctx.s.get``) and its configs with it.
    filevault_config: Mapped[FileVaultConfig | None] = relationship(lazy="joined")
    recovery_password_config: Mapped[RecoveryPasswordConfig | None] = relationship(lazy="joined")


class FilteredItem:
    """Zentral's FilteredBlueprintItem: platforms with OS bounds, shards, tags."""

    ios: Mapped[bool] = mapped_column(default=False)
    ios_min_version: Mapped[str] = mapped_column(String(32), default="")
    ios_max_version: Mapped[str] = mapped_column(String(32), default="")
    ipados: Mapped[bool] = mapped_column(default=False)
    ipados_min_version: Mapped[str] = mapped_column(String(32), default="")
    ipados_max_version: Mapped[str] = mapped_column(String(32), default="")
    macos: Mapped[bool] = mapped_column(default=False)
    macos_min_version: Mapped[str] = mapped_column(String(32), default="")
    macos_max_version: Mapped[str] = mapped_column(String(32), default="")
    tvos: Mapped[bool] = mapped_column(default=False)
    tvos_min_version: Mapped[str] = mapped_column(String(32), default="")
    tvos_max_version: Mapped[str] = mapped_column(String(32), default="")
    shard_modulo: Mapped[int] = mapped_column(default=100)
    default_shard: Mapped[int] = mapped_column(default=100)
    excluded_tags: Mapped[list] = mapped_column(JSON, default=list)  # tag ids
    tag_shards: Mapped[list] = mapped_column(JSON, default=list)  # [{"tag": id, "shard": n}]


class Artifact(Base):
    __tablename__ = "artifacts"

    id: Mapped[UuidStr] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    platforms: Mapped[list] = mapped_column(JSON, default=lambda: list(PLATFORMS))
    requires: Mapped[list] = mapped_column(JSON, default=list)  # artifact ids installed first
    install_during_setup_assistant: Mapped[bool] = mapped_column(default=False)
    auto_update: Mapped[bool] = mapped_column(default=True)
    reinstall_interval: Mapped[int] = mapped_column(default=0)
    reinstall_on_os_update: Mapped[str] = mapped_column(String(5), default="No")
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


class BlueprintArtifact(FilteredItem, Base):
    __tablename__ = "blueprint_artifacts"
    __table_args__ = (UniqueConstraint("blueprint_id", "artifact_id"),)

    id: Mapped[IntPk]
    blueprint_id: Mapped[int] = mapped_column(ForeignKey("blueprints.id", ondelete="CASCADE"))
    artifact_id: Mapped[str] = mapped_column(ForeignKey("artifacts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


class ArtifactVersion(FilteredItem, Base):
    __tablename__ = "artifact_versions"
    __table_args__ = (UniqueConstraint("artifact_id", "version"),)

    id: Mapped[UuidStr] = mapped_column(primary_key=True)
    artifact_id: Mapped[str] = mapped_column(ForeignKey("artifacts.id", ondelete="CASCADE"))
    version: Mapped[int]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    artifact: Mapped[Artifact] = relationship()
    profile: Mapped[Profile | None] = relationship(back_populates="artifact_version", uselist=False)
    declaration: Mapped[Declaration | None] = relationship(back_populates="artifact_version", uselist=False)
    store_app: Mapped[StoreApp | None] = relationship(back_populates="artifact_version", uselist=False)


class Profile(Base):
    """A configuration profile version. The source (base64 of the file as uploaded) is
    encrypted at rest: payloads carry passwords, keys and certificates."""

    __tablename__ = "profiles"

    id: Mapped[IntPk]
    artifact_version_id: Mapped[str] = mapped_column(ForeignKey("artifact_versions.id", ondelete="CASCADE"),
                                                     unique=True)
    source: Mapped[Secret]
    source_sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(256), default="")
    payload_identifier: Mapped[str] = mapped_column(String(256), index=True)
    payload_uuid: Mapped[str] = mapped_column(String(256))
    payload_display_name: Mapped[str] = mapped_column(String(256), default="")
    payload_description: Mapped[str] = mapped_column(String(2048), default="")

    artifact_version: Mapped[ArtifactVersion] = relationship(back_populates="profile")


class Declaration(Base):
    """A DDM declaration version. ``source`` is the JSON ``{"Type", "Identifier", "Payload"}``,
    encrypted at rest (declarations carry credentials); ``server_token`` is a keyed hash of it,
    so it changes exactly when the content does."""

    __tablename__ = "declarations"

    id: Mapped[IntPk]
    artifact_version_id: Mapped[str] = mapped_column(ForeignKey("artifact_versions.id", ondelete="CASCADE"),
                                                     unique=True)
    type: Mapped[str] = mapped_column(String(256))
    identifier: Mapped[str] = mapped_column(String(64), index=True)
    server_token: Mapped[str] = mapped_column(String(64))
    source: Mapped[Secret]

    artifact_version: Mapped[ArtifactVersion] = relationship(back_populates="declaration")


class DeviceArtifact(Base):
    """One artifact version on one device: pending (a command is queued), installed,
    failed (``error_chain`` from the device) or removed (by us, or gone from its ProfileList)."""

    __tablename__ = "device_artifacts"
    __table_args__ = (UniqueConstraint("enrolled_device_id", "artifact_version_id"),)

    id: Mapped[IntPk]
    enrolled_device_id: Mapped[int] = mapped_column(ForeignKey("enrolled_devices.id", ondelete="CASCADE"))
    artifact_id: Mapped[str] = mapped_column(ForeignKey("artifacts.id", ondelete="CASCADE"))
    artifact_version_id: Mapped[str] = mapped_column(ForeignKey("artifact_versions.id", ondelete="CASCADE"),
                                                     index=True)
    operation: Mapped[str] = mapped_column(String(32), default="Installation")  # of the last command
    status: Mapped[str] = mapped_column(String(16))
    command_uuid: Mapped[str | None] = mapped_column(String(36))
    error_chain: Mapped[JsonValue]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


Index("ix_device_artifacts_artifact", DeviceArtifact.artifact_id, DeviceArtifact.status)
Index("ix_device_artifacts_status", DeviceArtifact.status, DeviceArtifact.updated_at)
