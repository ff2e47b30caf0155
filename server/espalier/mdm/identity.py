"""Who is calling, and for which device a certificate may speak.

Every check-in and connect resolves the caller before its body is parsed: the device
certificate comes from the mTLS proxy headers or from an ``Mdm-Signature`` verified over
the raw body, and must chain to a trusted CA (``TrustStore``). Then:

- ``authorize_claim`` (Authenticate) decides whether the certificate may speak for the
  UDID the message names. A certificate issued for a UDID proven by attestation (the OTA
  profile service flow, or ADE MachineInfo) speaks only for that UDID. A UDID that is
  enrolled (bound to a certificate, enrollment completed, not checked out, not released)
  can be claimed only by its own certificate, a renewal we issued for it, or a
  certificate issued for it after proof; anything else is refused and the enrolled
  device keeps working.
- ``binding`` gives the columns that tie the certificate's SHA-256 to the device (unique:
  one certificate, one device); ``check_binding`` (every later message) refuses any other
  certificate, except a renewal we issued for the bound one, which ``bind`` then ties.
"""
from __future__ import annotations

import base64
import binascii
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload, load_only

from espalier.models import (DEPEnrollment, EnrolledDevice, EnrollmentSession, IssuedCertificate, OtaEnrollment,
                             PushCertificate)
from espalier.pki import ca as ca_lib
from espalier.pki import cms, signature_fast

from . import blocking
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


# -- the certificate of a request ---------------------------------------------------------

def certificate_from_request(headers, body: bytes, mtls_proxy: bool) -> x509.Certificate:
    """The client certificate: the signer of ``Mdm-Signature`` when present (verified over the
    raw body), else the proxy's ``X-SSL-Client-Cert`` (mtls_proxy), which must then come with
    an ``X-SSL-Client-S-DN`` naming the same subject."""
    signature = headers.get("Mdm-Signature")
    if signature:
        return _signature_certificate(signature, body)
    if not mtls_proxy:
        raise IdentityError("missing Mdm-Signature header (SignMessage profile, or an mTLS proxy?)")
    raw = headers.get("X-SSL-Client-Cert")
    if not raw:
        raise IdentityError("missing X-SSL-Client-Cert header (is the mTLS proxy configured?)")
    if len(raw) > MAX_HEADER:
        raise IdentityError("X-SSL-Client-Cert header too large")
    cert = _header_certificate(raw)
    subject = headers.get("X-SSL-Client-S-DN")
    if not subject:
        raise IdentityError("missing X-SSL-Client-S-DN header (is the mTLS proxy configured?)")
    if not _same_subject(cert, subject):
        raise IdentityError("X-SSL-Client-S-DN does not name the certificate's subject")
    return cert


def _signature_certificate(raw: str, body: bytes) -> x509.Certificate:
    if len(raw) > MAX_HEADER:
        raise IdentityError("Mdm-Signature header too large")
    try:
        der = base64.b64decode("".join(raw.split()), validate=True)
    except (binascii.Error, ValueError):
        raise IdentityError("Mdm-Signature is not base64") from None
    cert = signature_fast.verify(der, body)  # the usual shape, cheaply; anything else below
    if cert is not None:
        return cert
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


def _rdn_values(text: str) -> list[str]:
    # nginx prints RFC 2253 ("CN=x,O=y"), older proxies the OpenSSL one-line form ("/O=y/CN=x").
    text = unquote(text).strip()
    parts = text.strip("/").split("/") if text.startswith("/") else text.replace("\\,", "\x00").split(",")
    return sorted(p.split("=", 1)[-1].replace("\x00", ",").strip() for p in parts if "=" in p)


@lru_cache(maxsize=4096)
def _subject_values(cert: x509.Certificate) -> list[str]:
    return sorted(str(attr.value).strip() for attr in cert.subject)


def _same_subject(cert: x509.Certificate, header: str) -> bool:
    """Zentral compares the header with the certificate's subject; so do we, tolerant of the
    proxy's formatting (order, separators) but not of different values."""
    return _rdn_values(header) == _subject_values(cert)


@lru_cache(maxsize=4096)
def _fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate, hex (cached: a device presents the same one every time)."""
    return cert.fingerprint(hashes.SHA256()).hex()


class TrustStore:
    """The CAs whose device certificates we accept: the built-in CA and an external chain.

    Verified certificates are remembered by DER hash (bounded LRU) until they expire, so
    the hot path does not re-verify signatures on every request.
    """

    def __init__(self, builtin_ca: x509.Certificate, external_chain: list[x509.Certificate]):
        self.builtin_ca = builtin_ca
        self.external_chain = external_chain
        self._ok: OrderedDict[str, tuple[datetime, datetime]] = OrderedDict()  # fingerprint -> validity
        self._lock = threading.Lock()

    def verify(self, cert: x509.Certificate) -> Identity:
        now = datetime.now(timezone.utc)
        key = _fingerprint(cert)
        with self._lock:
            valid = self._ok.get(key)
        if valid is None or not valid[0] <= now < valid[1]:
            self._verify_uncached(cert)
            with self._lock:
                self._ok[key] = (cert.not_valid_before_utc, cert.not_valid_after_utc)
                if len(self._ok) > 50_000:
                    self._ok.popitem(last=False)
        return Identity(certificate=cert, fingerprint=key)

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


# -- which device a certificate speaks for ------------------------------------------------

@dataclass(frozen=True)
class CertificateOrigin:
    """Where a certificate came from: its enrollment session and, if proven, its device; and,
    asked in the same statement, Authenticate's two other questions of the claim."""

    session: EnrollmentSession
    udid: str | None  # the UDID it was issued for after attestation; None when nothing was proven
    renews: str | None  # the fingerprint of the certificate it renewed (built-in CA only)
    blocked: bool = False  # the claimed UDID or serial number is blocked (``blocking.BLOCKED``)
    bound_elsewhere: str | None = None  # the UDID of another device this certificate is bound to


# Authenticate reads the session's enrollment (OTA or DEP) and push topic next: one statement
# for all, of the columns it reads (not the push certificate's key and certificate).
_OTA, _DEP = (OtaEnrollment.id, OtaEnrollment.name, OtaEnrollment.push_certificate_id, OtaEnrollment.blueprint_id,
              OtaEnrollment.attestation, OtaEnrollment.quota), (
              DEPEnrollment.id, DEPEnrollment.name, DEPEnrollment.push_certificate_id, DEPEnrollment.blueprint_id)
_WITH_ENROLLMENT = (
    load_only(EnrollmentSession.enrollment_id, EnrollmentSession.dep_enrollment_id, EnrollmentSession.attested_udid,
              EnrollmentSession.attested_serial_number, EnrollmentSession.serial_number),
    joinedload(EnrollmentSession.enrollment).load_only(*_OTA)
    .joinedload(OtaEnrollment.push_certificate).load_only(PushCertificate.topic),
    joinedload(EnrollmentSession.dep_enrollment).load_only(*_DEP)
    .joinedload(DEPEnrollment.push_certificate).load_only(PushCertificate.topic))
_CLAIM = (blocking.BLOCKED.label("blocked"),
          select(EnrolledDevice.udid).where(EnrolledDevice.cert_fingerprint == bindparam("fingerprint"),
                                            EnrolledDevice.udid != bindparam("claimed_udid"))
          .limit(1).scalar_subquery().label("bound_elsewhere"))
# Built once: the first check-in of every enrollment runs them.
_ISSUED = (select(IssuedCertificate.udid, IssuedCertificate.renewed_fingerprint, EnrollmentSession, *_CLAIM)
           .select_from(IssuedCertificate)
           .outerjoin(EnrollmentSession, EnrollmentSession.id == IssuedCertificate.enrollment_session_id)
           .where(IssuedCertificate.fingerprint == bindparam("fingerprint")).options(*_WITH_ENROLLMENT))
_SESSION_BY_TOKEN = (select(EnrollmentSession, *_CLAIM).where(EnrollmentSession.token == bindparam("token"))
                     .options(*_WITH_ENROLLMENT))


def certificate_origin(s: Session, identity: Identity, session_token: str | None, udid: str,
                       serial_number: str | None) -> CertificateOrigin | None:
    """Certificates we issued are on record; an external CA's lead back by the session token
    in their Subject CN (what the attested UDID of that session proves, they prove). With it,
    whether ``udid`` or ``serial_number`` is blocked and whether the certificate is bound to
    another device than ``udid``."""
    params = {"fingerprint": identity.fingerprint, "claimed_udid": udid,
              **blocking.parameters(udid, serial_number)}
    found = s.execute(_ISSUED, params).first()
    if found is not None:
        issued_udid, renews, session, blocked, other = found
        return CertificateOrigin(session, issued_udid, renews, blocked, other) if session else None
    if session_token is None:
        return None
    found = s.execute(_SESSION_BY_TOKEN, {**params, "token": session_token}).first()
    if found is None:
        return None
    session, blocked, other = found
    return CertificateOrigin(session, session.attested_udid, None, blocked, other)


def is_claim_protected(device: EnrolledDevice) -> bool:
    """An enrolled device: only proof moves it to another certificate."""
    return (device.cert_fingerprint is not None and device.enrolled_at is not None
            and device.checkout_at is None and device.released_at is None)


def authorize_claim(udid: str, identity: Identity, origin: CertificateOrigin, device: EnrolledDevice | None) -> None:
    """Authenticate: may this certificate speak for ``udid``? Raises IdentityError if not."""
    if origin.session.source.attestation == "apple" and origin.udid is None:
        raise IdentityError("this enrollment requires device attestation, and the certificate carries none")
    if origin.udid is not None and origin.udid != udid:
        log.warning("certificate %s issued for %s presented for %s", identity.fingerprint[:16], origin.udid, udid)
        raise IdentityError("this certificate was issued for another device")
    other = origin.bound_elsewhere
    if other is not None:
        log.warning("certificate %s bound to %s presented for %s", identity.fingerprint[:16], other, udid)
        raise IdentityError("this certificate belongs to another device")
    if device is None or not is_claim_protected(device) or device.cert_fingerprint == identity.fingerprint:
        return
    if origin.renews is not None and origin.renews == device.cert_fingerprint:
        return
    if origin.udid == udid:
        log.info("device %s re-enrolled with a certificate issued after attestation", udid)
        return
    log.warning("refused a claim on enrolled device %s by certificate %s (no proof of identity)", udid,
                identity.fingerprint[:16])
    raise IdentityError("this device is enrolled with another certificate; a new enrollment needs device "
                        "attestation, or the device must check out or be released first")


BINDING = ("cert_fingerprint", "cert_not_valid_after", "released_at")


def binding(identity: Identity) -> dict:
    """The device's ``BINDING`` columns once the certificate is its own: later messages must present it."""
    return dict(zip(BINDING, (identity.fingerprint, identity.not_valid_after, None)))


def bind(device: EnrolledDevice, identity: Identity) -> None:
    """A renewal: the renewed certificate becomes the device's."""
    for name, value in binding(identity).items():
        setattr(device, name, value)


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
