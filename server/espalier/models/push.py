"""APNs push certificates. The topic (the certificate's UID) never changes on renewal."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text

from .base import Base, CreatedAt, IntPk, Mapped, Secret, UpdatedAt, mapped_column


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
    status: Mapped[str] = mapped_column(String(16), default="ok")  # ok | error
    status_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]
