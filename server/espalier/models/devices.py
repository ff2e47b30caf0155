"""Enrolled devices and their user channels.

A device is keyed by its UDID (the EnrollmentID for user enrollments), never by serial
number alone. Each user channel (macOS user, Shared iPad user) is a separate row.
Secrets (tokens, keys, passwords) are ``pki.secrets`` ciphertexts.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint, and_
from sqlalchemy.ext.hybrid import hybrid_property

from .base import Base, CreatedAt, IntPk, Mapped, Secret, Udid, UpdatedAt, mapped_column

def _escrowed(secret: str) -> hybrid_property:
    """``secret`` holds a value: True or False on a row, ``IS NOT NULL`` in a query."""
    return hybrid_property(lambda self: getattr(self, secret) is not None,
                           expr=lambda cls: getattr(cls, secret).is_not(None))


class EnrolledDevice(Base):
    __tablename__ = "enrolled_devices"

    id: Mapped[IntPk]
    udid: Mapped[Udid] = mapped_column(unique=True)
    serial_number: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str | None] = mapped_column(String(256))
    model: Mapped[str | None] = mapped_column(String(64))
    product_name: Mapped[str | None] = mapped_column(String(64))
    platform: Mapped[str | None] = mapped_column(String(16))
    os_version: Mapped[str | None] = mapped_column(String(32))
    build_version: Mapped[str | None] = mapped_column(String(32))
    apple_silicon: Mapped[bool | None]
    blueprint_id: Mapped[int | None] = mapped_column(ForeignKey("blueprints.id", ondelete="SET NULL"))

    # enrollment and identity
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("ota_enrollments.id", ondelete="SET NULL"))
    dep_enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("dep_enrollments.id", ondelete="SET NULL"))
    push_certificate_id: Mapped[int | None] = mapped_column(ForeignKey("push_certificates.id", ondelete="SET NULL"))
    # unique: a certificate speaks for one device; two Authenticates racing past the
    # bound-elsewhere check (mdm/identity) cannot both bind it
    cert_fingerprint: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    cert_not_valid_after: Mapped[datetime | None]
    enrolled_at: Mapped[datetime | None]  # first TokenUpdate of the current enrollment
    released_at: Mapped[datetime | None]  # an operator (or an erase) let the next enrollment take the UDID

    # management state
    awaiting_configuration: Mapped[bool | None]
    declarative_management: Mapped[bool] = mapped_column(default=False)
    # DDM sync: the DeclarationsToken the device last fetched, and the one of the last
    # DeclarativeManagement command queued (never two commands for one token)
    declarations_token: Mapped[str | None] = mapped_column(String(64))
    declarations_token_queued: Mapped[str | None] = mapped_column(String(64))
    # The convergence epoch (models/convergence_epoch.py) at which profile convergence last
    # found nothing to do for this device; None once anything it scopes on changes.
    converged_epoch: Mapped[int | None] = mapped_column(BigInteger)
    # The same for the DDM step (mdm/ddm.py), with the UTC day: its set also follows the date
    # (a software update becomes enforceable on its posting date).
    declarations_epoch: Mapped[int | None] = mapped_column(BigInteger)
    declarations_epoch_on: Mapped[date | None]
    dep_enrollment: Mapped[bool | None]
    user_enrollment: Mapped[bool | None]
    user_approved_enrollment: Mapped[bool | None]
    supervised: Mapped[bool | None]
    activation_lock_manageable: Mapped[bool | None]
    pin_required_for_lock: Mapped[bool | None]
    pin_required_for_erase: Mapped[bool | None]
    filevault_enabled: Mapped[bool | None]

    # secrets
    bootstrap_token: Mapped[Secret]
    filevault_prk: Mapped[Secret]
    recovery_password: Mapped[Secret]
    unlock_token: Mapped[Secret]
    # ADE on macOS: the admin account AccountConfiguration created (its password escrowed)
    admin_short_name: Mapped[str | None] = mapped_column(String(32))
    admin_password: Mapped[Secret]
    admin_password_updated_at: Mapped[datetime | None]
    account_configuration_queued_at: Mapped[datetime | None]
    device_configured_queued_at: Mapped[datetime | None]  # DeviceConfigured sent for this enrollment

    # FileVault: the per-device escrow key (its certificate is public), the profile installed
    # (``mdm/filevault.profile_token``), when the current PRK was escrowed
    filevault_escrow_key: Mapped[Secret]
    filevault_escrow_certificate: Mapped[str | None] = mapped_column(Text)  # PEM
    filevault_profile_token: Mapped[str | None] = mapped_column(String(80))
    filevault_prk_escrowed_at: Mapped[datetime | None]
    filevault_prk_revealed_at: Mapped[datetime | None]  # last reveal: rotated after it when rotation is on
    # Recovery lock / firmware password: when the current one was set; a firmware password
    # the Mac acknowledged that applies at its next restart (``mdm/recovery_password.py``)
    recovery_password_updated_at: Mapped[datetime | None]
    pending_recovery_password: Mapped[Secret]
    pending_recovery_password_at: Mapped[datetime | None]

    # push
    topic: Mapped[str | None] = mapped_column(String(256))
    push_token: Mapped[str | None] = mapped_column(String(512))  # lowercase hex
    push_magic: Mapped[str | None] = mapped_column(String(256))
    push_token_invalid_at: Mapped[datetime | None]  # APNs said Unregistered/BadDeviceToken
    push_token_error: Mapped[str | None] = mapped_column(String(64))

    last_inventory_at: Mapped[datetime | None]
    inventory_queued_at: Mapped[datetime | None]
    session_started_at: Mapped[datetime | None]  # last Idle connect: NotNow'd commands wait for the next
    last_seen_at: Mapped[datetime | None]
    last_notified_at: Mapped[datetime | None]
    checkout_at: Mapped[datetime | None]
    blocked_at: Mapped[datetime | None]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    @hybrid_property
    def is_blocked(self) -> bool:
        """Blocked: released at its next contact, refused at enrollment, never pushed or sent commands."""
        return self.blocked_at is not None

    @is_blocked.inplace.expression
    @classmethod
    def _is_blocked_expression(cls):
        return cls.blocked_at.is_not(None)

    @hybrid_property
    def pushable(self) -> bool:
        """Has a live push token and may be woken (not blocked, not checked out)."""
        return (self.push_token is not None and self.push_magic is not None and self.push_token_invalid_at is None
                and self.blocked_at is None and self.checkout_at is None)

    @pushable.inplace.expression
    @classmethod
    def _pushable_expression(cls):
        return and_(cls.push_token.is_not(None), cls.push_magic.is_not(None), cls.push_token_invalid_at.is_(None),
                    cls.blocked_at.is_(None), cls.checkout_at.is_(None))

    # Whether a secret is escrowed, on a row and as SQL (a listing reads the flag, not the ciphertext).
    bootstrap_token_escrowed = _escrowed("bootstrap_token")
    filevault_prk_escrowed = _escrowed("filevault_prk")
    recovery_password_escrowed = _escrowed("recovery_password")

    @property
    def is_mobile(self) -> bool:
        return self.platform in ("iOS", "iPadOS")

class EnrolledUser(Base):
    """A user channel of a device: its own push token and command queue."""

    __tablename__ = "enrolled_users"
    __table_args__ = (UniqueConstraint("enrolled_device_id", "user_id"),)

    id: Mapped[IntPk]
    enrolled_device_id: Mapped[int] = mapped_column(ForeignKey("enrolled_devices.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(64))  # UserID GUID, or EnrollmentUserID
    short_name: Mapped[str | None] = mapped_column(String(256))
    long_name: Mapped[str | None] = mapped_column(String(256))
    push_token: Mapped[str | None] = mapped_column(String(512))
    push_magic: Mapped[str | None] = mapped_column(String(256))
    session_started_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


class BlockedDevice(Base):
    """A device blocked before (or without) an enrollment, by serial number or UDID (stored in
    upper case: Apple prints both so; matched without case). An enrolled device is blocked
    on its own row (``EnrolledDevice.blocked_at``)."""

    __tablename__ = "blocked_devices"

    id: Mapped[IntPk]
    serial_number: Mapped[str | None] = mapped_column(String(64), unique=True)
    udid: Mapped[str | None] = mapped_column(String(64), unique=True)
    reason: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[CreatedAt]
