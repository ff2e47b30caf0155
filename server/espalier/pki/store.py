"""The built-in device CA as stored: created on first use, key encrypted at rest.

The decrypted CA is cached per process (it never changes once created). Creation races
between processes are settled by the unique name: the loser reloads the winner's CA.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from espalier.models import CertificateAuthority
from espalier.pki import ca as ca_lib
from espalier.pki.secrets import SecretBox

DEVICE_CA = "device"
KEY_CONTEXT = "certificate_authorities.private_key"

_lock = threading.Lock()
_cache: dict[tuple[str, str], "StoredCA"] = {}


@dataclass(frozen=True)
class StoredCA:
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


def device_ca(s: Session, box: SecretBox, database_url: str) -> StoredCA:
    """The SCEP CA that issues device identities (and signs enrollment profiles)."""
    cache_key = (database_url, DEVICE_CA)
    if (found := _cache.get(cache_key)) is not None:
        return found
    with _lock:
        row = s.scalar(select(CertificateAuthority).where(CertificateAuthority.name == DEVICE_CA))
        if row is None:
            row = _create(s, box)
        stored = StoredCA(
            certificate=x509.load_pem_x509_certificate(row.certificate.encode()),
            key=serialization.load_pem_private_key(box.decrypt(row.private_key, KEY_CONTEXT), password=None),
        )
        _cache[cache_key] = stored
        return stored


def _create(s: Session, box: SecretBox) -> CertificateAuthority:
    cert, key = ca_lib.create_ca("Espalier Device CA", "Espalier")
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    row = CertificateAuthority(name=DEVICE_CA, certificate=cert.public_bytes(serialization.Encoding.PEM).decode(),
                               private_key=box.encrypt(pem_key, KEY_CONTEXT))
    try:
        with s.begin_nested():
            s.add(row)
    except IntegrityError:
        row = s.scalar(select(CertificateAuthority).where(CertificateAuthority.name == DEVICE_CA))
    return row


def forget() -> None:
    """Drop the process cache (tests that recreate the database)."""
    _cache.clear()
