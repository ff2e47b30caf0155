"""The SCEP server protocol (RFC 8894), free of any web framework.

GetCACaps and GetCACert bodies, PKIOperation parsing and CertRep replies. Only SUCCESS
and FAILURE are ever answered: some clients cannot handle PENDING.
"""

from __future__ import annotations

import base64
import binascii
import enum
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms as asn1_cms
from asn1crypto import core
from asn1crypto import csr as asn1_csr
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from espalier.pki import cms

CA_CAPS = ("AES", "DES3", "SHA-256", "SHA-1", "POSTPKIOperation", "SCEPStandard", "Renewal")

_SCEP = "2.16.840.1.113733.1.9."
MESSAGE_TYPE, PKI_STATUS, FAIL_INFO = _SCEP + "2", _SCEP + "3", _SCEP + "4"
SENDER_NONCE, RECIPIENT_NONCE, TRANSACTION_ID = _SCEP + "5", _SCEP + "6", _SCEP + "7"
CHALLENGE_PASSWORD = "1.2.840.113549.1.9.7"
_PRINTABLE = re.compile(r"[A-Za-z0-9 '()+,\-./:=?]*")

CERT_REP, RENEWAL_REQ, PKCS_REQ, CERT_POLL, GET_CERT, GET_CRL = 3, 17, 19, 20, 21, 22
_KNOWN_TYPES = {RENEWAL_REQ, PKCS_REQ, CERT_POLL, GET_CERT, GET_CRL}


class FailInfo(enum.IntEnum):
    BAD_ALG = 0
    BAD_MESSAGE_CHECK = 1
    BAD_REQUEST = 2
    BAD_TIME = 3
    BAD_CERT_ID = 4


class SCEPError(Exception):
    """A PKIMessage too broken to answer at all (the web layer replies 400)."""


@dataclass
class SCEPRequest:
    """A parsed PKIMessage. When `fail_info` is set, answer with cert_rep_failure.

    fail_info: BAD_ALG for an unsupported digest, signature or cipher; BAD_MESSAGE_CHECK
    for a bad signature, messageDigest or CSR signature; BAD_REQUEST for an envelope not
    for us, an unreadable CSR, or a message type this server does not serve (CertPoll,
    GetCert, GetCRL). For RenewalReq `signer_cert` is the old certificate: the caller
    must check it chains to our CA before issuing.
    """

    message_type: int
    transaction_id: str
    sender_nonce: bytes
    signer_cert: x509.Certificate
    digest_algorithm: str
    csr: x509.CertificateSigningRequest | None = None
    challenge: str | None = None
    fail_info: int | None = None
    envelope_cipher: str | None = None

    @property
    def reply_cipher(self) -> str:
        """AES, unless the requester sealed its own envelope with (3)DES and may lack AES."""
        return "des3" if self.envelope_cipher in ("des", "des3") else "aes256"


def get_ca_caps() -> tuple[bytes, str]:
    return "\n".join(CA_CAPS).encode(), "text/plain"


def get_ca_cert(ca_cert: x509.Certificate, ra_certs: Iterable[x509.Certificate] = ()) -> tuple[bytes, str]:
    """GetCACert body and its exact content type (clients reject any parameter)."""
    ra_certs = list(ra_certs)
    if ra_certs:
        return cms.certs_only([ca_cert, *ra_certs]), "application/x-x509-ca-ra-cert"
    return ca_cert.public_bytes(serialization.Encoding.DER), "application/x-x509-ca-cert"


def decode_message_param(value: str) -> bytes:
    """Decode GET PKIOperation's `message`: either base64 alphabet, padding optional."""
    # A '+' left unescaped by the client arrives as a space after query-string decoding.
    text = "".join(value.replace(" ", "+").split()).translate(str.maketrans("-_", "+/"))
    text = text.rstrip("=")
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SCEPError("message is not base64") from exc
    if not decoded:
        raise SCEPError("empty message")
    return decoded


def _attribute(info: asn1_cms.SignerInfo, oid: str, kind: type[core.Asn1Value]) -> Any:
    value = cms.signed_attribute(info, oid)
    if not isinstance(value, kind):
        raise SCEPError(f"missing or malformed attribute {oid}")
    return value.native


def _message_type(info: asn1_cms.SignerInfo) -> int:
    text = _attribute(info, MESSAGE_TYPE, core.AbstractString)
    if not (text.isascii() and text.isdigit() and len(text) <= 3):
        raise SCEPError("messageType is not a number")
    return int(text)


def parse_pki_message(der: bytes, ca_cert: x509.Certificate, ca_key: rsa.RSAPrivateKey) -> SCEPRequest:
    """Parse, verify and decrypt a PKIOperation request (PKCSReq, RenewalReq, ...)."""
    try:
        signed = cms.load_signed_data(der)
        info = cms.sole_signer(signed)
        request = SCEPRequest(
            message_type=_message_type(info),
            transaction_id=_attribute(info, TRANSACTION_ID, core.AbstractString),
            sender_nonce=_attribute(info, SENDER_NONCE, core.OctetString),
            signer_cert=cms.signer_certificate(signed, info),
            digest_algorithm=str(info["digest_algorithm"]["algorithm"].native),
        )
        content = cms.encapsulated_content(signed)
    except cms.CMSError as exc:
        raise SCEPError(str(exc)) from exc
    except cms.MALFORMED as exc:
        raise SCEPError(f"malformed PKIMessage ({type(exc).__name__})") from exc
    if not request.transaction_id or not request.sender_nonce:
        raise SCEPError("empty transactionID or senderNonce")
    request.fail_info = _verify_and_open(request, signed, content or b"", ca_cert, ca_key)
    return request


def _verify_and_open(request: SCEPRequest, signed: asn1_cms.SignedData, content: bytes,
                     ca_cert: x509.Certificate, ca_key: rsa.RSAPrivateKey) -> int | None:
    """Fill csr/challenge/envelope_cipher; return the failInfo to answer with, if any."""
    try:
        cms.verify_signer(signed, content)
    except cms.CMSAlgorithmError:
        return FailInfo.BAD_ALG
    except cms.CMSError:
        return FailInfo.BAD_MESSAGE_CHECK
    if request.message_type not in (PKCS_REQ, RENEWAL_REQ):
        return FailInfo.BAD_REQUEST
    if not isinstance(request.signer_cert.public_key(), rsa.RSAPublicKey):
        return FailInfo.BAD_ALG  # the reply envelope needs RSA key transport
    try:
        inner, request.envelope_cipher = cms.open_enveloped(content, ca_cert, ca_key)
    except cms.CMSAlgorithmError:
        return FailInfo.BAD_ALG
    except cms.CMSError:
        return FailInfo.BAD_REQUEST
    try:
        csr = x509.load_der_x509_csr(inner)
        _ = (csr.subject, csr.public_key(), csr.extensions)  # parsing is lazy: fail here, not later
        if not csr.is_signature_valid:
            return FailInfo.BAD_MESSAGE_CHECK
    except UnsupportedAlgorithm:
        return FailInfo.BAD_ALG
    except cms.MALFORMED:
        return FailInfo.BAD_REQUEST
    request.csr = csr
    request.challenge = _challenge(inner)
    return None


def _challenge(csr_der: bytes) -> str | None:
    """The challengePassword in any string type (PrintableString, UTF8String, IA5String...)."""
    try:
        attributes = asn1_csr.CertificationRequest.load(csr_der)["certification_request_info"]["attributes"]
        for attribute in attributes:
            if attribute["type"].dotted == CHALLENGE_PASSWORD:
                # Read the raw SET contents: asn1crypto's DirectoryString spec rejects IA5String.
                value = core.load(attribute["values"].contents, strict=True)
                return value.native if isinstance(value, core.AbstractString) else None
    except cms.MALFORMED:
        pass
    return None


def _echo_string(text: str) -> core.Asn1Value:
    """PrintableString as RFC 8894 wants, unless the requester's ID needs UTF8String."""
    return core.PrintableString(text) if _PRINTABLE.fullmatch(text) else core.UTF8String(text)


def _cert_rep(request: SCEPRequest, ca_cert: x509.Certificate, ca_key: rsa.RSAPrivateKey, status: str,
              content: bytes | None, fail_info: int | None = None) -> bytes:
    attributes: list[tuple[str, core.Asn1Value]] = [
        (MESSAGE_TYPE, core.PrintableString(str(CERT_REP))),
        (PKI_STATUS, core.PrintableString(status)),
        (TRANSACTION_ID, _echo_string(request.transaction_id)),
        (SENDER_NONCE, core.OctetString(os.urandom(16))),
        (RECIPIENT_NONCE, core.OctetString(request.sender_nonce)),
    ]
    if fail_info is not None:
        attributes.append((FAIL_INFO, core.PrintableString(str(int(fail_info)))))
    digest = request.digest_algorithm if request.digest_algorithm in cms.HASHES else "sha256"
    return cms.sign_with_attributes(content, ca_cert, ca_key, digest, attributes)


def cert_rep_success(request: SCEPRequest, issued_cert: x509.Certificate, ca_cert: x509.Certificate,
                     ca_key: rsa.RSAPrivateKey, cipher: str = "aes256") -> bytes:
    """CertRep SUCCESS: the issued certificate, sealed to the requester's signing cert.

    Only the issued certificate: clients such as micromdm's scepclient and mdmb take the
    first certificate of the reply as theirs, and every client has the CA from GetCACert.
    """
    degenerate = cms.certs_only([issued_cert])
    envelope = cms.encrypt_enveloped(degenerate, request.signer_cert, cipher)
    return _cert_rep(request, ca_cert, ca_key, "0", envelope)


def cert_rep_failure(request: SCEPRequest, fail_info: int, ca_cert: x509.Certificate,
                     ca_key: rsa.RSAPrivateKey) -> bytes:
    """CertRep FAILURE with `fail_info` (see FailInfo) and no content."""
    return _cert_rep(request, ca_cert, ca_key, "2", None, FailInfo(fail_info))
