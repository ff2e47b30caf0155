"""APNs push certificates. The topic (the certificate's UID) never changes on renewal.

The certificate's state (days left, expiring, expired, usable) lives here, read by the
API, the CLI, the push job and the expiry check alike.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, Text

from .base import Base, CreatedAt, IntPk, Mapped, Secret, UpdatedAt, mapped_column, utcnow

EXPIRY_WARNING = timedelta(days=30)


class PushCertificate(Base):
    __tablename__ = "push_certificates"

    id: Mapped[IntPk]
    name: Mapped[str] = mapped_column(String(256), unique=True)
    topic: Mapped[str] = mapped_column(String(256), unique=True)
    certificate: Mapped[str] = mapped_column(Text)  # PEM
    private_key: Mapped[Secret]  # unencrypted PEM, encrypted at rest
    fingerprint: Mapped[str] = mapped_column(String(64))
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="ok")  # ok | error (APNs refused it)
    status_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    def days_left(self, now: datetime | None = None) -> int:
        return (self.not_after - (now or utcnow())).days

    def is_expiring(self, now: datetime | None = None) -> bool:
        """Within 30 days of expiry (or expired): time to renew."""
        return self.not_after - (now or utcnow()) <= EXPIRY_WARNING

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.not_after <= (now or utcnow())

    def state(self, now: datetime | None = None) -> str:
        """ok, expired, or error (APNs refused the certificate); only ``ok`` is used to push."""
        return "expired" if self.is_expired(now) else self.status
