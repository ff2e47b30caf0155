"""Stand-in certificates: test CAs, APNs push certificates, and Apple/vendor chains."""
from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

TOPIC_PREFIX = "com.apple.mgmt.External."


@dataclass
class Issued:
    """A certificate with its unencrypted private key."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.cert.public_bytes(serialization.Encoding.DER)).hexdigest()

    def write_cert(self, path: Path) -> Path:
        path.write_bytes(self.cert_pem)
        return path


@dataclass
class PushCert(Issued):
    topic: str = ""


def make_ca(common_name: str = "Espalier Test CA", issuer: Issued | None = None,
            days: int = 3650) -> Issued:
    """A root CA (no issuer) or an intermediate CA signed by `issuer`."""
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = _builder(name, key.public_key(), issuer, days, name)
    builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    builder = builder.add_extension(
        x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                      data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                      encipher_only=False, decipher_only=False), critical=True)
    return Issued(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)


def sign_csr(issuer: Issued, csr_pem: bytes, days: int = 365) -> x509.Certificate:
    """Issue a leaf certificate for a CSR (stands in for the Apple Developer portal)."""
    csr = x509.load_pem_x509_csr(csr_pem)
    builder = _builder(csr.subject, csr.public_key(), issuer, days)
    return builder.sign(issuer.key, hashes.SHA256())


def make_push_cert(ca: Issued, topic_uuid: str | None = None, days: int = 365) -> PushCert:
    """A push certificate shaped like Apple's: UID=<topic>, CN=APSP:<uuid>, C=US."""
    topic_uuid = topic_uuid or str(uuid.uuid4())
    topic = TOPIC_PREFIX + topic_uuid
    key = _key()
    subject = x509.Name([
        x509.NameAttribute(NameOID.USER_ID, topic),
        x509.NameAttribute(NameOID.COMMON_NAME, f"APSP:{topic_uuid}"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
    ])
    builder = _builder(subject, key.public_key(), ca, days)
    builder = builder.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]),
                                    critical=False)
    return PushCert(builder.sign(ca.key, hashes.SHA256()), key, topic)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _builder(subject: x509.Name, public_key, issuer: Issued | None, days: int,
             self_name: x509.Name | None = None) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.timezone.utc)
    issuer_name = issuer.cert.subject if issuer else self_name
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(min(now - dt.timedelta(minutes=5), now + dt.timedelta(days=days - 30)))
               .not_valid_after(now + dt.timedelta(days=days))  # days < 0: an expired certificate
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
    authority = issuer.key.public_key() if issuer else public_key
    return builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority),
                                 critical=False)
