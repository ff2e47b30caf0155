"""Enrollment profiles (.mobileconfig) and the certificate -> enrollment session link.

Each profile download opens an EnrollmentSession: its token is the SCEP Subject CN
(``espalier:<token>``), so a certificate from the built-in CA or an external one leads back
to the enrollment at Authenticate, and its single-use challenge is what the built-in SCEP
CA accepts. Facts: PROTOCOL.md section 1.
"""
from __future__ import annotations

import hashlib
import secrets as pysecrets
import uuid
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import Session

from espalier.db import HotStatement
from espalier.models import DEPEnrollment, EnrollmentSession, OtaEnrollment, PushCertificate, utcnow

from .messages import dump

SCEP_NAME = "espalier"
CN_PREFIX = "espalier:"
ACCESS_RIGHTS_ALL = 8191
CAPABILITIES = ["com.apple.mdm.per-user-connections", "com.apple.mdm.bootstraptoken"]


def challenge_hash(challenge: str) -> str:
    """Challenges are stored hashed: the built-in CA only needs to recognise one, once."""
    return hashlib.sha256(challenge.encode()).hexdigest()


@dataclass(frozen=True)
class Urls:
    base: str

    @property
    def checkin(self) -> str:
        return f"{self.base}/mdm/checkin"

    @property
    def connect(self) -> str:
        return f"{self.base}/mdm/connect"

    @property
    def scep(self) -> str:
        return f"{self.base}/scep/{SCEP_NAME}"


# Sessions are written with Core statements: nothing reads them back in the request that
# opens one, and the ORM's unit of work cost more than the INSERT itself. Opening one is an
# enrollment's first write, on the driver's cursor; the kinds of session bind what they know.
_OPENED = ("enrollment_id", "dep_enrollment_id", "attestation_challenge_hash", "attested_udid",
           "attested_serial_number", "attested_at", "serial_number", "udid")
_OPEN = HotStatement(insert(EnrollmentSession.__table__).inline().values(
    **{name: bindparam(name) for name in ("token", "challenge_hash", *_OPENED)},
    created_at=bindparam("now"), updated_at=bindparam("now")))


def _scep_challenge(enrollment: OtaEnrollment | DEPEnrollment) -> str | None:
    """The session's single-use SCEP challenge, for the built-in CA only."""
    return pysecrets.token_urlsafe(24) if enrollment.identity_source == "builtin" else None


def _hashed(challenge: str | None) -> str | None:
    return challenge_hash(challenge) if challenge else None


def _insert_session(s: Session, challenge: str | None, **values) -> str:
    token = pysecrets.token_hex(16)
    _OPEN.execute(s, {**dict.fromkeys(_OPENED), **values, "token": token, "challenge_hash": _hashed(challenge),
                      "now": utcnow()})
    return token


def open_session(s: Session, enrollment: OtaEnrollment, *, serial_number: str | None = None,
                 udid: str | None = None) -> tuple[str, str | None]:
    """A new session: (its token, its SCEP challenge, returned once)."""
    challenge = _scep_challenge(enrollment)
    return _insert_session(s, challenge, enrollment_id=enrollment.id, serial_number=serial_number,
                           udid=udid), challenge


def open_attestation_session(s: Session, enrollment: OtaEnrollment) -> str:
    """Profile service phase 1: a session waiting for the device's signed attributes; the
    attestation challenge (returned once)."""
    challenge = pysecrets.token_urlsafe(24)
    _insert_session(s, None, enrollment_id=enrollment.id, attestation_challenge_hash=challenge_hash(challenge))
    return challenge


def attest_session(s: Session, enrollment: OtaEnrollment, udid: str, serial_number: str | None,
                   challenge: str, now) -> tuple[str, str | None] | None:
    """Profile service phase 2: spend the attestation challenge (once, whoever races), record the
    proven UDID and serial, and give the session its SCEP challenge: (token, SCEP challenge).
    None: unknown or spent."""
    scep_challenge = _scep_challenge(enrollment)
    token = s.connection().execute(update(EnrollmentSession).where(
        EnrollmentSession.enrollment_id == enrollment.id,
        EnrollmentSession.attestation_challenge_hash == challenge_hash(challenge),
        EnrollmentSession.attested_at.is_(None))
        .values(attested_at=now, attested_udid=udid, attested_serial_number=serial_number,
                challenge_hash=_hashed(scep_challenge))
        .returning(EnrollmentSession.token)).scalar()
    return None if token is None else (token, scep_challenge)


def open_dep_session(s: Session, enrollment: DEPEnrollment, udid: str, serial_number: str,
                     now) -> tuple[str, str | None]:
    """ADE: a session proven by the device's signed MachineInfo: (token, SCEP challenge)."""
    challenge = _scep_challenge(enrollment)
    return _insert_session(s, challenge, dep_enrollment_id=enrollment.id, attested_udid=udid,
                           attested_serial_number=serial_number, attested_at=now, serial_number=serial_number,
                           udid=udid), challenge


def profile_identifier(enrollment: OtaEnrollment | DEPEnrollment) -> str:
    kind = "dep_enrollment" if isinstance(enrollment, DEPEnrollment) else "enrollment"
    return f"com.espalier.mdm.{kind}.{enrollment.id}"


def build_profile(enrollment: OtaEnrollment | DEPEnrollment, push_certificate: PushCertificate | None,
                  token: str, challenge: str | None, external_challenge: str | None, urls: Urls,
                  mtls_proxy: bool) -> bytes:
    """The XML .mobileconfig: a com.apple.mdm payload and its SCEP identity payload."""
    ident = profile_identifier(enrollment)
    scep_uuid, mdm_uuid = str(uuid.uuid4()).upper(), str(uuid.uuid4()).upper()
    scep_url = urls.scep if enrollment.identity_source == "builtin" else enrollment.scep_url
    scep_content = {
        "URL": scep_url, "Name": SCEP_NAME,
        "Subject": [[["CN", CN_PREFIX + token]], [["O", "Espalier"]]],
        "Keysize": 2048, "Key Type": "RSA", "Key Usage": 5,  # sign + encrypt
    }
    if challenge or external_challenge:
        scep_content["Challenge"] = challenge or external_challenge
    mdm = {
        "PayloadType": "com.apple.mdm", "PayloadVersion": 1, "PayloadIdentifier": f"{ident}.mdm",
        "PayloadUUID": mdm_uuid, "PayloadDisplayName": "Device management",
        "IdentityCertificateUUID": scep_uuid, "Topic": push_certificate.topic if push_certificate else "",
        "ServerURL": urls.connect, "CheckInURL": urls.checkin, "AccessRights": ACCESS_RIGHTS_ALL,
        "ServerCapabilities": CAPABILITIES, "CheckOutWhenRemoved": True, "SignMessage": not mtls_proxy,
    }
    scep = {
        "PayloadType": "com.apple.security.scep", "PayloadVersion": 1, "PayloadIdentifier": f"{ident}.scep",
        "PayloadUUID": scep_uuid, "PayloadDisplayName": "Device identity", "PayloadContent": scep_content,
    }
    profile = {
        "PayloadType": "Configuration", "PayloadVersion": 1, "PayloadIdentifier": ident,
        "PayloadUUID": str(uuid.uuid4()).upper(), "PayloadDisplayName": enrollment.display_name,
        "PayloadOrganization": "Espalier", "PayloadScope": "System", "PayloadContent": [scep, mdm],
    }
    return dump(profile)


def session_token(subject: x509.Name) -> str | None:
    for attr in subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = attr.value if isinstance(attr.value, str) else ""
        if value.startswith(CN_PREFIX) and 0 < len(value) - len(CN_PREFIX) <= 64:
            return value[len(CN_PREFIX):]
    return None
