"""The built-in device CA as stored: created on first use, key encrypted at rest.

``DeviceCAStore`` belongs to a runtime and keeps the decrypted CA once loaded (it never
changes after creation). Creation races between processes are settled by the unique
name: the loser reloads the winner's CA.
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


@dataclass(frozen=True)
class StoredCA:
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


class DeviceCAStore:
    """The SCEP CA that issues device identities (and signs enrollment profiles)."""

    def __init__(self, secrets: SecretBox):
        self._secrets = secrets
        self._lock = threading.Lock()
        self._loaded: StoredCA | None = None

    def get(self, s: Session) -> StoredCA:
        if self._loaded is not None:
            return self._loaded
        with self._lock:
            if self._loaded is None:
                row = s.scalar(select(CertificateAuthority).where(CertificateAuthority.name == DEVICE_CA))
                if row is None:
                    row = self._create(s)
                self._loaded = StoredCA(
                    certificate=x509.load_pem_x509_certificate(row.certificate.encode()),
                    key=serialization.load_pem_private_key(self._secrets.open(row, "private_key"), password=None))
            return self._loaded

    def _create(self, s: Session) -> CertificateAuthority:
        cert, key = ca_lib.create_ca("Espalier Device CA", "Espalier")
        pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        try:
            with s.begin_nested():
                row = CertificateAuthority(name=DEVICE_CA, certificate=cert.public_bytes(serialization.Encoding.PEM).decode())
                s.add(row)
                s.flush()
                self._secrets.seal(row, "private_key", pem_key)
                s.flush()
        except IntegrityError:
            row = s.scalar(select(CertificateAuthority).where(CertificateAuthority.name == DEVICE_CA))
        return row
