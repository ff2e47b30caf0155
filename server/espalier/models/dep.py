"""Automated Device Enrollment (ABM/ASM "DEP"): server tokens, virtual servers, their devices.

A ``DEPToken`` is first a key pair (its certificate is uploaded to ABM), then, once the
downloaded ``*_smime.p7m`` is opened with that key, the OAuth credentials. The token row
is the virtual server's for good: renewing puts a new key pair on it and replaces the
credentials, so the server, its devices and its cursor stay. Its expiry state is read
like a push certificate's (days left, expiring within 30 days, expired).

The sync state (cursor and the claim that keeps two syncs of one server apart) lives on
``DEPVirtualServer``; devices are never deleted by a sync, only marked (``last_op_type``
``deleted``). ``DEPDevice.enrollment_id`` is the DEP enrollment Espalier assigned the device to;
``profile_uuid`` is Apple's.

A ``DEPEnrollment`` is Apple's enrollment profile (defined at Apple, ``profile_uuid``) and
what Espalier does with the devices that come through it (push certificate, blueprint, OS
bounds, the macOS admin account). Its device-facing URL carries ``secret``; what the device
is comes from its MachineInfo, signed by Apple's device CA, never from the URL.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import JSON, ForeignKey, Index, String, Text

from sqlalchemy.orm import relationship

from .base import Base, CreatedAt, IntPk, Mapped, Secret, UpdatedAt, mapped_column, utcnow
from .push import PushCertificate

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
    # new devices of this server are assigned this enrollment after each sync (Espalier's)
    default_enrollment_id: Mapped[int | None] = mapped_column(
        ForeignKey("dep_enrollments.id", ondelete="SET NULL", use_alter=True, name="fk_dep_vs_default_enrollment"))
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
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("dep_enrollments.id", ondelete="SET NULL"))
    fetched_at: Mapped[datetime | None]  # last seen in a full fetch
    disowned_at: Mapped[datetime | None]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


Index("ix_dep_devices_virtual_server", DEPDevice.virtual_server_id, DEPDevice.fetched_at)
Index("ix_dep_devices_created_at", DEPDevice.created_at)


class DEPEnrollment(Base):
    """Zentral's DEP enrollment fields (Apple's profile JSON where the names match)."""

    __tablename__ = "dep_enrollments"

    id: Mapped[IntPk]
    name: Mapped[str] = mapped_column(String(256), unique=True)
    display_name: Mapped[str] = mapped_column(String(256))
    virtual_server_id: Mapped[int] = mapped_column(ForeignKey("dep_virtual_servers.id", ondelete="RESTRICT"))
    push_certificate_id: Mapped[int] = mapped_column(ForeignKey("push_certificates.id", ondelete="RESTRICT"))
    blueprint_id: Mapped[int | None] = mapped_column(ForeignKey("blueprints.id", ondelete="SET NULL"))
    secret: Mapped[Secret]  # the device-facing URL's secret (shown with mdm.view_enrollment_secret)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Apple's profile
    profile_uuid: Mapped[str | None] = mapped_column(String(64), unique=True)
    is_supervised: Mapped[bool] = mapped_column(default=True)
    is_mandatory: Mapped[bool] = mapped_column(default=True)
    is_mdm_removable: Mapped[bool] = mapped_column(default=False)
    is_multi_user: Mapped[bool] = mapped_column(default=True)
    await_device_configured: Mapped[bool] = mapped_column(default=True)
    auto_advance_setup: Mapped[bool] = mapped_column(default=False)
    allow_pairing: Mapped[bool] = mapped_column(default=False)
    include_tls_certificates: Mapped[bool] = mapped_column(default=False)  # anchor_certs: our server chain
    skip_setup_items: Mapped[list] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(3), default="")
    region: Mapped[str] = mapped_column(String(2), default="")
    department: Mapped[str] = mapped_column(String(125), default="")
    org_magic: Mapped[str] = mapped_column(String(256), default="")
    support_phone_number: Mapped[str] = mapped_column(String(50), default="")
    support_email_address: Mapped[str] = mapped_column(String(250), default="")
    # OS bounds: below the minimum a device that can is told to update first (403
    # com.apple.softwareupdate.required); above the maximum it is refused. "" = none.
    ios_min_version: Mapped[str] = mapped_column(String(32), default="")
    ios_max_version: Mapped[str] = mapped_column(String(32), default="")
    macos_min_version: Mapped[str] = mapped_column(String(32), default="")
    macos_max_version: Mapped[str] = mapped_column(String(32), default="")
    # macOS: the admin account AccountConfiguration creates (its password per device, escrowed)
    admin_full_name: Mapped[str | None] = mapped_column(String(80))
    admin_short_name: Mapped[str | None] = mapped_column(String(32))
    hidden_admin: Mapped[bool] = mapped_column(default=True)
    admin_password_complexity: Mapped[int] = mapped_column(default=3)
    admin_password_rotation_delay: Mapped[int] = mapped_column(default=60)  # minutes after a reveal, 0: never
    # the last define at Apple: when it succeeded, or Apple's error code (the row is kept either way)
    defined_at: Mapped[datetime | None]
    define_error: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    # An enrollment session reads these of its enrollment, OTA or DEP alike (mdm/checkin.authenticate,
    # mdm/identity.authorize_claim, mdm/enrollment): a DEP device proved itself with MachineInfo.
    attestation = "apple"
    identity_source = "builtin"
    scep_url = None
    quota = None

    push_certificate: Mapped[PushCertificate] = relationship()

    @property
    def requires_account_configuration(self) -> bool:
        return bool(self.admin_short_name)
