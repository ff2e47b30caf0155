"""Push certificates: add, renew, list. The topic (the certificate's UID) is pinned.

Renewing in Apple's portal keeps the topic; creating a new certificate changes it and
every enrolled device would have to re-enroll. So: adding a certificate whose topic
exists is refused ("renew the existing certificate instead"), and renewing with another
topic is refused naming both topics.
"""
from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from espalier.models import PushCertificate, utcnow
from espalier.pki.secrets import SecretBox
from espalier.services.errors import NotFound, ServiceError



def _err(field: str, message: str) -> ServiceError:
    return ServiceError(f"{field}: {message}", {field: [message]})


def parse(certificate: str, private_key: str, password: str | None) -> tuple[x509.Certificate, bytes, str]:
    """Check the pair; return the certificate, the unencrypted key PEM and the topic."""
    if password is not None and not isinstance(password, str):
        raise _err("private_key_password", "must be a string")
    if not isinstance(certificate, str) or not certificate.strip():
        raise _err("certificate", "required: the push certificate in PEM form")
    if not isinstance(private_key, str) or not private_key.strip():
        raise _err("private_key", "required: the push certificate's private key in PEM form")
    try:
        cert = x509.load_pem_x509_certificate(certificate.encode())
    except ValueError:
        raise _err("certificate", "not a PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(private_key.encode(), password.encode() if password else None)
    except TypeError:
        if password:  # a password for a key that is not encrypted: not needed
            return parse(certificate, private_key, None)
        raise _err("private_key_password", "the private key is encrypted: give its password") from None
    except ValueError:
        raise _err("private_key", "cannot load the private key (wrong password, or not a PEM key)") from None
    if key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
            cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        raise _err("private_key", "does not match the certificate")
    uids = cert.subject.get_attributes_for_oid(NameOID.USER_ID)
    if not uids or not str(uids[0].value).strip():
        raise _err("certificate", "has no UID in its subject: not an APNs push certificate")
    topic = str(uids[0].value)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert, key_pem, topic


def _fill(pc: PushCertificate, box: SecretBox, cert: x509.Certificate, key_pem: bytes) -> None:
    pc.certificate = cert.public_bytes(serialization.Encoding.PEM).decode()
    pc.fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    pc.not_before = cert.not_valid_before_utc.replace(tzinfo=None)
    pc.not_after = cert.not_valid_after_utc.replace(tzinfo=None)
    pc.status, pc.status_message = "ok", None
    box.seal(pc, "private_key", key_pem)  # last: a new row is flushed for its id here


def add(s: Session, box: SecretBox, data: dict[str, Any]) -> PushCertificate:
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _err("name", "This field is required.")
    cert, key_pem, topic = parse(data.get("certificate"), data.get("private_key"), data.get("private_key_password"))
    existing = s.scalar(select(PushCertificate).where(PushCertificate.topic == topic))
    if existing is not None:
        raise _err("certificate", f"a push certificate for topic {topic} already exists (#{existing.id} "
                   f"{existing.name!r}): renew the existing certificate instead")
    if s.scalar(select(PushCertificate.id).where(PushCertificate.name == name.strip())):
        raise _err("name", "push certificate with this name already exists.")
    pc = PushCertificate(name=name.strip(), topic=topic)
    s.add(pc)
    _fill(pc, box, cert, key_pem)
    s.flush()
    return pc


def renew(s: Session, box: SecretBox, cert_id: int, data: dict[str, Any]) -> PushCertificate:
    pc = get(s, cert_id)
    cert, key_pem, topic = parse(data.get("certificate"), data.get("private_key"), data.get("private_key_password"))
    if topic != pc.topic:
        raise _err("certificate", f"the new certificate's topic {topic} differs from this certificate's topic "
                   f"{pc.topic}: renew the existing certificate in Apple's portal (Renew, not Create) so the topic "
                   "stays the same")
    new_not_after = cert.not_valid_after_utc.replace(tzinfo=None)
    if not data.get("force"):
        if new_not_after <= utcnow():
            raise _err("certificate", f"this certificate expired on {new_not_after:%Y-%m-%d}: upload the renewal "
                       "downloaded from Apple's portal (force: true to use it anyway)")
        if new_not_after < pc.not_after:
            raise _err("certificate", f"this certificate expires on {new_not_after:%Y-%m-%d}, before the current one "
                       f"({pc.not_after:%Y-%m-%d}): is it an older download? (force: true to use it anyway)")
    if "name" in data:
        name = data["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > 256:
            raise _err("name", "must be a non-empty string of at most 256 characters")
        if s.scalar(select(PushCertificate.id).where(PushCertificate.name == name.strip(),
                                                     PushCertificate.id != pc.id)):
            raise _err("name", "push certificate with this name already exists.")
        pc.name = name.strip()
    _fill(pc, box, cert, key_pem)
    return pc


def get(s: Session, cert_id: int) -> PushCertificate:
    pc = s.get(PushCertificate, cert_id)
    if pc is None:
        raise NotFound("No PushCertificate matches the given query.")
    return pc


def list_all(s: Session, name: str | None = None, topic: str | None = None) -> list[PushCertificate]:
    stmt = select(PushCertificate).order_by(PushCertificate.id)
    if name is not None:
        stmt = stmt.where(PushCertificate.name == name)
    if topic is not None:
        stmt = stmt.where(PushCertificate.topic == topic)
    return list(s.scalars(stmt))
