"""MDM vendor and APNs push certificate requests (the `espalier mdmcerts` workflow).

A vendor key + CSR is submitted to the Apple Developer portal ("MDM CSR"); the
vendor certificate it yields then signs our push CSR, and the signed request
(push.b64) is uploaded at https://identity.apple.com/pushcert. The plist shape
follows Apple's archived MDMVendorCSRSigningOverview; the signature is SHA-256
RSA PKCS#1 v1.5 over the DER CSR, as micromdm's mdmcertutil does.
"""
from __future__ import annotations

import base64
import plistlib
import re

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

APPLE_WWDR_URL = "https://www.apple.com/certificateauthority/AppleWWDRCAG3.cer"
APPLE_ROOT_URL = "https://www.apple.com/appleca/AppleIncRootCertificate.cer"
VENDOR_CN = "MDM Vendor"
PUSH_CN = "Espalier APNS"

_COUNTRY = re.compile(r"[A-Za-z]{2}")


class PushRequestError(Exception):
    """A vendor or push request cannot be made; the message is one line for the operator."""


def make_vendor_request(password: bytes) -> tuple[bytes, bytes]:
    """Return (encrypted vendor key PEM, vendor CSR PEM) for the Apple Developer portal."""
    key = _new_key()
    csr = _csr(key, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, VENDOR_CN)]))
    return _encrypt(key, password, "vendor"), csr.public_bytes(serialization.Encoding.PEM)


def make_push_request(vendor_cert: bytes, vendor_key_pem: bytes, vendor_password: bytes,
                      push_password: bytes, apple_chain_pem: bytes,
                      country_code: str) -> tuple[bytes, bytes, bytes]:
    """Return (encrypted push key PEM, push CSR PEM, push.b64) signed by the MDM vendor.

    `vendor_cert` is the portal's download (DER or PEM); `apple_chain_pem` holds
    the Apple WWDR intermediate and the Apple root, in any order.
    """
    country = normalize_country_code(country_code)
    cert = _load_cert(vendor_cert)
    vendor_key = _load_key(vendor_key_pem, vendor_password)
    if cert.public_key().public_numbers() != vendor_key.public_key().public_numbers():
        raise PushRequestError("vendor.key does not match the public key of vendor.crt")
    chain = _ordered_apple_chain(apple_chain_pem)

    push_key = _new_key()
    push_key_pem = _encrypt(push_key, push_password, "push")
    csr = _csr(push_key, x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, PUSH_CN),
        x509.NameAttribute(NameOID.COUNTRY_NAME, country),
    ]))
    csr_der = csr.public_bytes(serialization.Encoding.DER)
    signature = vendor_key.sign(csr_der, padding.PKCS1v15(), hashes.SHA256())
    pem = serialization.Encoding.PEM
    chain_pem = b"".join(c.public_bytes(pem) for c in [cert, *chain])
    request = {
        "PushCertRequestCSR": base64.b64encode(csr_der).decode(),
        "PushCertCertificateChain": chain_pem.decode(),
        "PushCertSignature": base64.b64encode(signature).decode(),
    }
    push_b64 = base64.b64encode(plistlib.dumps(request, fmt=plistlib.FMT_XML))
    return push_key_pem, csr.public_bytes(pem), push_b64


def fetch_apple_chain(client: httpx.Client | None = None,
                      urls: tuple[str, ...] = (APPLE_WWDR_URL, APPLE_ROOT_URL)) -> bytes:
    """Download Apple's WWDR intermediate and root certificates; return them as PEM."""
    own = client is None
    http = client or httpx.Client(timeout=30.0, follow_redirects=True)
    try:
        pems = []
        for url in urls:
            try:
                response = http.get(url)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                raise PushRequestError(f"cannot download {url}: {exc}") from exc
            try:
                cert = _load_cert(response.content)
            except PushRequestError:
                raise PushRequestError(f"{url} did not return a certificate") from None
            pems.append(cert.public_bytes(serialization.Encoding.PEM))
        return b"".join(pems)
    finally:
        if own:
            http.close()


def normalize_country_code(country_code: str) -> str:
    """Uppercase an ISO 3166-1 alpha-2 code; the push CSR carries it as C=."""
    if not isinstance(country_code, str) or not _COUNTRY.fullmatch(country_code):
        raise PushRequestError(
            f"country code {country_code!r} is not two ASCII letters (ISO 3166-1 alpha-2, e.g. DE)")
    return country_code.upper()


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _csr(key: rsa.RSAPrivateKey, subject: x509.Name) -> x509.CertificateSigningRequest:
    return x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())


def _encrypt(key: rsa.RSAPrivateKey, password: bytes, what: str) -> bytes:
    if not password:
        raise PushRequestError(f"the {what} key password must not be empty")
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(password))


def _load_key(pem: bytes, password: bytes) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=password or None)
    except (ValueError, TypeError):
        # cryptography cannot tell a wrong password from a damaged file; say both.
        raise PushRequestError("wrong vendor key password, or vendor.key is not a PEM key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PushRequestError("vendor.key is not an RSA key")
    return key


def _load_cert(data: bytes) -> x509.Certificate:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise PushRequestError("vendor.crt is not a DER or PEM certificate") from None


def _ordered_apple_chain(pem: bytes) -> list[x509.Certificate]:
    """Intermediate(s) first, self-issued root last, as the portal expects."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise PushRequestError("the Apple chain file holds no PEM certificates") from None
    return sorted(certs, key=lambda c: c.subject == c.issuer)
