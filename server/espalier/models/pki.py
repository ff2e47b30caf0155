"""The built-in certificate authority and what it has issued."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text

from .base import Base, CreatedAt, IntPk, Mapped, Secret, mapped_column


class CertificateAuthority(Base):
    __tablename__ = "certificate_authorities"

    id: Mapped[IntPk]
    name: Mapped[str] = mapped_column(String(64), unique=True)  # "device" for the SCEP CA
    certificate: Mapped[str] = mapped_column(Text)  # PEM
    private_key: Mapped[Secret]
    created_at: Mapped[CreatedAt]


class IssuedCertificate(Base):
    __tablename__ = "issued_certificates"

    id: Mapped[IntPk]
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    serial: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(512))
    enrollment_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrollment_sessions.id", ondelete="SET NULL"), index=True)
    renewed_fingerprint: Mapped[str | None] = mapped_column(String(64))  # the cert this one renewed
    udid: Mapped[str | None] = mapped_column(String(64))  # the attested device it was issued for
    not_valid_after: Mapped[datetime]
    created_at: Mapped[CreatedAt]
