"""The built-in device CA as pure functions: make the CA, issue client certs, check chains.

Persistence (PEM in the database or on disk) belongs to the caller.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

# What cryptography raises for certificates and CSRs it cannot fully decode (parsing is lazy).
_UNDECODABLE = (ValueError, TypeError, UnsupportedAlgorithm, x509.DuplicateExtension,
                x509.UnsupportedGeneralNameType)
# Backdate new certificates a little so devices with a slow clock accept them at once.
CLOCK_SKEW = dt.timedelta(minutes=5)
_MAX_DEPTH = 8


class CAError(Exception):
    """A CSR, certificate or chain that the CA refuses."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _key_usage(*, digital_signature: bool = False, key_encipherment: bool = False,
               ca: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=False,
        key_encipherment=key_encipherment, data_encipherment=False, key_agreement=False,
        key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False)


def create_ca(common_name: str, organization: str | None = None,
              validity_days: int = 3650) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A self-signed RSA 2048 CA certificate and its key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    name = x509.Name(attributes)
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=validity_days))
        # pathlen 0: this CA only issues leaf (device) certificates.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(digital_signature=True, ca=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _issuer_ski(ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key())  # type: ignore[arg-type]


def issue_certificate(
    ca_cert: x509.Certificate,
    ca_key: CertificateIssuerPrivateKeyTypes,
    csr: x509.CertificateSigningRequest,
    validity_days: int = 365,
    subject: x509.Name | None = None,
    extra_extensions: Iterable[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    """Issue a TLS client certificate for `csr`'s key.

    `subject` overrides the CSR's subject; `extra_extensions` are (value, critical) pairs.
    Nothing else is copied from the CSR (no SANs): the CA decides what it certifies.
    """
    try:
        if not csr.is_signature_valid:
            raise CAError("CSR signature is invalid")
        public_key = csr.public_key()
        name = subject if subject is not None else csr.subject
    except _UNDECODABLE as exc:
        raise CAError(f"unusable CSR: {exc}") from exc
    now = _now()
    # A certificate outliving its issuer would never verify: cap at the CA's expiry.
    not_after = min(now + dt.timedelta(days=validity_days), ca_cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(int.from_bytes(os.urandom(16), "big") or 1)  # 128 random bits
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_encipherment=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_issuer_ski(ca_cert), critical=False)
    )
    try:
        for value, critical in extra_extensions:
            builder = builder.add_extension(value, critical=critical)
        return builder.sign(ca_key, hashes.SHA256())
    except (ValueError, TypeError) as exc:
        raise CAError(f"cannot issue certificate: {exc}") from exc


def fingerprint_sha256(cert: x509.Certificate) -> str:
    """Lowercase hex SHA-256 of the certificate's DER."""
    return cert.fingerprint(hashes.SHA256()).hex()


def load_pem_chain(pem: str | bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, in order."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise CAError(f"no valid PEM certificates: {exc}") from exc


def _valid_at(cert: x509.Certificate, at: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= at <= cert.not_valid_after_utc


def _may_issue(issuer: x509.Certificate, cas_below: int) -> bool:
    """A CA (keyCertSign if keyUsage is present) whose pathLen allows `cas_below` CAs under it."""
    try:
        constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
        if not constraints.ca or (constraints.path_length is not None and constraints.path_length < cas_below):
            return False
        return issuer.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    except x509.ExtensionNotFound as exc:
        return exc.oid == ExtensionOID.KEY_USAGE  # keyUsage is optional, basicConstraints is not
    except _UNDECODABLE:
        return False


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (InvalidSignature, *_UNDECODABLE):
        return False


def _reaches_anchor(cert: x509.Certificate, chain: list[x509.Certificate], at: dt.datetime | None,
                    depth: int) -> bool:
    """Depth-first search from `cert` to a self-signed root or the chain's last cert."""
    if depth > _MAX_DEPTH:
        return False
    for issuer in chain:
        if not (_may_issue(issuer, depth) and (at is None or _valid_at(issuer, at)) and _signed_by(cert, issuer)):
            continue
        if issuer == chain[-1] or _signed_by(issuer, issuer):
            return True
        if issuer != cert and _reaches_anchor(issuer, chain, at, depth + 1):
            return True
    return False


def verify_chain(cert: x509.Certificate, chain: list[x509.Certificate],
                 at: dt.datetime | None = None, *, check_validity: bool = True) -> None:
    """Raise CAError unless `cert` is valid at `at` and chains to an anchor in `chain`.

    An anchor is a self-signed root in `chain` or the chain's last certificate, so an
    operator may trust an intermediate without its root. pathLen is enforced; revocation
    and name constraints are not checked. ``check_validity=False`` checks signatures only
    (Apple's device identity chain, whose intermediates expired while devices still use it).
    """
    at = (at or _now()) if check_validity else None
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    if not chain:
        raise CAError("empty trust chain")
    if at is not None and not _valid_at(cert, at):
        raise CAError("certificate is expired or not yet valid")
    if not _reaches_anchor(cert, list(chain), at, 0):
        raise CAError("certificate does not chain to a trusted CA")
