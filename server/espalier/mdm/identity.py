"""Who is calling: the device certificate, from the mTLS proxy headers or Mdm-Signature.

Every check-in and connect goes through ``certificate_from_request`` then ``verify_trusted``;
``bind`` (at Authenticate) ties the certificate's SHA-256 to the device, and
``check_binding`` (on every later message) refuses a certificate bound to someone else.
"""
from __future__ import annotations

import base64
import binascii
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timezone
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from sqlalchemy import select
from sqlalchemy.orm import Session

from espalier.models import EnrolledDevice, IssuedCertificate
from espalier.pki import ca as ca_lib
from espalier.pki import cms

from .errors import IdentityError

log = logging.getLogger(__name__)

MAX_HEADER = 16 * 1024


@dataclass(frozen=True)
class Identity:
    certificate: x509.Certificate
    fingerprint: str

    @property
    def not_valid_after(self) -> datetime:
        return self.certificate.not_valid_after_utc.replace(tzinfo=None)


def certificate_from_request(headers, body: bytes, mtls_proxy: bool) -> x509.Certificate:
    """The client certificate: proxy header (mtls_proxy) or the signer of Mdm-Signature."""
    if mtls_proxy:
        raw = headers.get("X-SSL-Client-Cert")
        if not raw:
            raise IdentityError("missing X-SSL-Client-Cert header (is the mTLS proxy configured?)")
        if len(raw) > MAX_HEADER:
            raise IdentityError("X-SSL-Client-Cert header too large")
        return _header_certificate(raw)
    raw = headers.get("Mdm-Signature")
    if not raw:
        raise IdentityError("missing Mdm-Signature header (SignMessage profile, or an mTLS proxy?)")
    if len(raw) > MAX_HEADER:
        raise IdentityError("Mdm-Signature header too large")
    try:
        der = base64.b64decode("".join(raw.split()), validate=True)
    except (binascii.Error, ValueError):
        raise IdentityError("Mdm-Signature is not base64") from None
    try:
        return cms.verify_detached(der, body)
    except cms.CMSError as exc:
        raise IdentityError(f"Mdm-Signature does not verify: {exc}") from None


@lru_cache(maxsize=4096)
def _header_certificate(raw: str) -> x509.Certificate:
    """Parse the proxy's escaped PEM (cached: a device sends the same header every time)."""
    pem = unquote(raw).strip()
    # Some proxies fold the PEM onto one line with spaces or tabs in place of newlines.
    if "\n" not in pem:
        pem = pem.replace("\t", "\n")
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise IdentityError("X-SSL-Client-Cert is not a PEM certificate") from None


class TrustStore:
    """The CAs whose device certificates we accept: the built-in CA and an external chain.

    Verified certificates are remembered by DER hash (bounded LRU) until they expire, so
    the hot path does not re-verify signatures on every request.
    """

    def __init__(self, builtin_ca: x509.Certificate, external_chain: list[x509.Certificate]):
        self.builtin_ca = builtin_ca
        self.external_chain = external_chain
        self._ok: OrderedDict[bytes, datetime] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, cert: x509.Certificate) -> Identity:
        now = datetime.now(timezone.utc)
        key = cert.fingerprint(hashes.SHA256())
        with self._lock:
            until = self._ok.get(key)
        if until is None or until <= now or cert.not_valid_before_utc > now:
            self._verify_uncached(cert)
            with self._lock:
                self._ok[key] = cert.not_valid_after_utc
                if len(self._ok) > 50_000:
                    self._ok.popitem(last=False)
        return Identity(certificate=cert, fingerprint=key.hex())

    def _verify_uncached(self, cert: x509.Certificate) -> None:
        errors = []
        for chain in ([self.builtin_ca], self.external_chain):
            if not chain:
                continue
            try:
                ca_lib.verify_chain(cert, chain)
                return
            except ca_lib.CAError as exc:
                errors.append(str(exc))
        raise IdentityError(f"untrusted device certificate: {'; '.join(errors) or 'no trusted CA'}")


def bind(device: EnrolledDevice, identity: Identity) -> None:
    """Authenticate: the certificate becomes the device's; later messages must present it."""
    device.cert_fingerprint = identity.fingerprint
    device.cert_not_valid_after = identity.not_valid_after


def ensure_unbound_elsewhere(s: Session, udid: str, identity: Identity) -> None:
    """A certificate already bound to another device cannot authenticate as this one."""
    other = s.scalar(select(EnrolledDevice.udid).where(
        EnrolledDevice.cert_fingerprint == identity.fingerprint, EnrolledDevice.udid != udid).limit(1))
    if other is not None:
        log.warning("certificate %s bound to %s presented for %s", identity.fingerprint[:16], other, udid)
        raise IdentityError("this certificate belongs to another device")


def check_binding(s: Session, device: EnrolledDevice, identity: Identity) -> None:
    """Every message after Authenticate: the same certificate, or a renewal we issued for it."""
    if device.cert_fingerprint == identity.fingerprint:
        return
    renewed = s.scalar(select(IssuedCertificate.renewed_fingerprint).where(
        IssuedCertificate.fingerprint == identity.fingerprint))
    if renewed is not None and renewed == device.cert_fingerprint:
        log.info("device %s renewed its identity certificate", device.udid)
        bind(device, identity)
        return
    log.warning("certificate mismatch for %s: got %s", device.udid, identity.fingerprint[:16])
    raise IdentityError("device certificate does not match the enrolled certificate")
