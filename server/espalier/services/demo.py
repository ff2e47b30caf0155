"""The demo `./run serve` sets up on the embedded default: a throw-away push certificate
(self-made, so APNs would refuse it), a lab enrollment and the first admin token.

Idempotent: a second run finds what the first made and mints no new token.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from espalier.models import OtaEnrollment, PushCertificate, User
from espalier.services import auth, enrollments, push_certificates

# The topic marks the certificate as the demo's everywhere it is shown or pushed.
DEMO_TOPIC_PREFIX = "com.apple.mgmt.External.espalier-demo-"
DEMO_CERT_NAME = "DEMO throw-away (self-made, cannot reach APNs)"
DEMO_ENROLLMENT_NAME = "Demo lab (attestation none)"
ADMIN = "admin"


def is_demo_topic(topic: str) -> bool:
    return topic.startswith(DEMO_TOPIC_PREFIX)


def make_push_pair(days: int = 365) -> tuple[str, str]:
    """A self-signed certificate shaped like Apple's (UID topic) and its key, both PEM."""
    key = rsa.generate_private_key(65537, 2048)
    topic = DEMO_TOPIC_PREFIX + str(uuid.uuid4())
    name = x509.Name([x509.NameAttribute(NameOID.USER_ID, topic),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Espalier demo push certificate (throw-away)")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


@dataclass
class Demo:
    enrollment_secret: str
    token: str | None  # only on the run that created the admin user
    created: bool


def set_up(s: Session, box) -> Demo:
    admin_key = None
    if s.scalar(select(User).where(User.username == ADMIN)) is None:
        auth.create_user(s, ADMIN)
        _, admin_key = auth.create_token(s, ADMIN, roles=["admin"], name="./run serve (first start)")
    e = s.scalar(select(OtaEnrollment).where(OtaEnrollment.name == DEMO_ENROLLMENT_NAME))
    created = e is None
    if created:
        pc = s.scalar(select(PushCertificate).where(PushCertificate.topic.startswith(DEMO_TOPIC_PREFIX)))
        if pc is None:
            cert_pem, key_pem = make_push_pair()
            pc = push_certificates.add(s, box, {"name": DEMO_CERT_NAME, "certificate": cert_pem,
                                                "private_key": key_pem})
        e = enrollments.create(s, box, {"name": DEMO_ENROLLMENT_NAME, "push_certificate": pc.id,
                                        "reusable": True, "attestation": "none"})
    return Demo(enrollments.reveal_secret(box, e), admin_key, created)
