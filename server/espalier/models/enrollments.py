"""Over-the-air enrollments and the per-download sessions that bind a certificate to one.

An enrollment is what an operator hands out (a URL with its secret). Each profile
download opens an ``EnrollmentSession`` whose token goes into the SCEP Subject CN, and
whose single-use challenge is consumed by the built-in SCEP CA. At Authenticate the
device certificate leads back to the session, hence to the enrollment.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import relationship

from .base import Base, CreatedAt, IntPk, Mapped, Secret, UpdatedAt, mapped_column
from .dep import DEPEnrollment
from .push import PushCertificate

IDENTITY_SOURCES = ("builtin", "external")
# apple: the device proves its UDID and serial with its Apple-issued identity first (profile
# service); none: the plain profile (labs, simulated devices), which cannot claim an enrolled UDID.
ATTESTATIONS = ("apple", "none")


class OtaEnrollment(Base):
    __tablename__ = "ota_enrollments"

    id: Mapped[IntPk]
    name: Mapped[str] = mapped_column(String(256), unique=True)
    display_name: Mapped[str] = mapped_column(String(256))
    push_certificate_id: Mapped[int | None] = mapped_column(ForeignKey("push_certificates.id", ondelete="RESTRICT"))
    blueprint_id: Mapped[int | None] = mapped_column(ForeignKey("blueprints.id", ondelete="SET NULL"))
    identity_source: Mapped[str] = mapped_column(String(16), default="builtin")
    attestation: Mapped[str] = mapped_column(String(16), default="apple", server_default="apple")
    scep_url: Mapped[str | None] = mapped_column(String(1024))  # external SCEP server only
    scep_challenge: Mapped[Secret]  # external SCEP server only
    secret: Mapped[Secret]  # the URL secret, shown to operators
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reusable: Mapped[bool] = mapped_column(default=True)
    secret_used_at: Mapped[datetime | None]  # one-time secrets: when it was spent
    quota: Mapped[int | None]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    push_certificate: Mapped[PushCertificate | None] = relationship()


class EnrollmentSession(Base):
    __tablename__ = "enrollment_sessions"

    id: Mapped[IntPk]
    # one of the two: an OTA enrollment's session, or a DEP one's (opened by a verified MachineInfo)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("ota_enrollments.id", ondelete="CASCADE"), index=True)
    dep_enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("dep_enrollments.id", ondelete="CASCADE"),
                                                          index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)  # in the SCEP Subject CN
    challenge_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # built-in CA, single use
    challenge_used_at: Mapped[datetime | None]
    attestation_challenge_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # profile service
    # Proven by the device's Apple-issued identity (profile service, MachineInfo): the
    # certificate issued through this session speaks for this UDID only.
    attested_udid: Mapped[str | None] = mapped_column(String(64))
    attested_serial_number: Mapped[str | None] = mapped_column(String(64))
    attested_at: Mapped[datetime | None]
    # Learned at Authenticate (or asked for in the enrollment URL, unproven).
    serial_number: Mapped[str | None] = mapped_column(String(64))
    udid: Mapped[str | None] = mapped_column(String(64))
    enrolled_device_id: Mapped[int | None] = mapped_column(ForeignKey("enrolled_devices.id", ondelete="SET NULL"))
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    enrollment: Mapped[OtaEnrollment | None] = relationship()
    dep_enrollment: Mapped[DEPEnrollment | None] = relationship()

    @property
    def source(self) -> OtaEnrollment | DEPEnrollment:
        """The enrollment this session belongs to, OTA or DEP: both answer push_certificate,
        blueprint_id, attestation, identity_source, scep_url and quota."""
        return self.enrollment if self.enrollment_id is not None else self.dep_enrollment
