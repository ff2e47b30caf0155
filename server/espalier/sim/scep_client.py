"""The simulated device's SCEP client (RFC 8894): build PKCSReq/RenewalReq, read CertRep.

Deliberately independent of espalier.pki (cryptography and asn1crypto only), so that
a server bug shows up as a failed enrollment instead of being shared by both sides.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os

from asn1crypto import cms, core
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as block_padding
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import AttributeOID

from espalier.sim.signing import DIGESTS, signed_data

_SCEP = "2.16.840.1.113733.1.9."
MESSAGE_TYPE, PKI_STATUS, FAIL_INFO = _SCEP + "2", _SCEP + "3", _SCEP + "4"
SENDER_NONCE, RECIPIENT_NONCE, TRANSACTION_ID = _SCEP + "5", _SCEP + "6", _SCEP + "7"
# name -> (asn1crypto algorithm name, key bytes)
CIPHERS = {"aes128": ("aes128_cbc", 16), "aes256": ("aes256_cbc", 32),
           "des3": ("tripledes_3key", 24), "des": ("des", 8)}


class SCEPClientError(Exception):
    """The CA's reply is malformed, unexpected or not authentic."""


class SCEPFailure(SCEPClientError):
    """The CA answered pkiStatus FAILURE."""

    def __init__(self, fail_info: int) -> None:
        super().__init__(f"SCEP failure, failInfo {fail_info}")
        self.fail_info = fail_info


def _self_signed(key: rsa.RSAPrivateKey, subject: x509.Name) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))


def _cbc(name: str, key: bytes) -> algorithms.AES | TripleDES:
    return algorithms.AES(key) if name.startswith("aes") else TripleDES(key * 3 if name == "des" else key)


def _envelope(data: bytes, recipient: x509.Certificate, cipher: str) -> bytes:
    oid_name, key_size = CIPHERS[cipher]
    key = os.urandom(key_size)
    algorithm = _cbc(cipher, key)
    iv = os.urandom(algorithm.block_size // 8)
    padder = block_padding.PKCS7(algorithm.block_size).padder()
    encryptor = Cipher(algorithm, modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()
    public_key = recipient.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    issuer_and_serial = cms.IssuerAndSerialNumber({
        "issuer": cms.Name.load(recipient.issuer.public_bytes()), "serial_number": recipient.serial_number})
    ktri = cms.KeyTransRecipientInfo({
        "version": "v0", "rid": cms.RecipientIdentifier(name="issuer_and_serial_number", value=issuer_and_serial),
        "key_encryption_algorithm": {"algorithm": "rsaes_pkcs1v15"},
        "encrypted_key": public_key.encrypt(key, padding.PKCS1v15())})
    enveloped = cms.EnvelopedData({
        "version": "v0", "recipient_infos": [cms.RecipientInfo(name="ktri", value=ktri)],
        "encrypted_content_info": {
            "content_type": "data", "encrypted_content": ciphertext,
            "content_encryption_algorithm": {"algorithm": oid_name, "parameters": core.OctetString(iv)}}})
    return cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped}).dump()


def build_pkcs_req(
    ca_cert: x509.Certificate,
    key: rsa.RSAPrivateKey,
    subject: x509.Name,
    challenge: str | None,
    cipher: str = "aes256",
    digest: str = "sha256",
    renewal_cert: x509.Certificate | None = None,
    renewal_key: rsa.RSAPrivateKey | None = None,
    *,
    csr: x509.CertificateSigningRequest | None = None,
) -> tuple[bytes, str, bytes, x509.Certificate]:
    """A PKCSReq (or RenewalReq signed by `renewal_cert`) for `key`.

    Returns (DER message, transactionID, senderNonce, the cert the reply is sealed to):
    a fresh self-signed cert, or `renewal_cert` for a renewal. `csr` replaces the CSR.
    """
    if csr is None:
        builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
        if challenge is not None:
            builder = builder.add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge.encode())
        csr = builder.sign(key, hashes.SHA256())
    if renewal_cert is not None and renewal_key is not None:
        signer_cert, signer_key, message_type = renewal_cert, renewal_key, "17"
    else:
        signer_cert, signer_key, message_type = _self_signed(key, subject), key, "19"
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    transaction_id = hashlib.sha256(spki).hexdigest().upper()
    nonce = os.urandom(16)
    envelope = _envelope(csr.public_bytes(serialization.Encoding.DER), ca_cert, cipher)
    message = signed_data(envelope, signer_cert, signer_key, digest, [
        (MESSAGE_TYPE, core.PrintableString(message_type)),
        (TRANSACTION_ID, core.PrintableString(transaction_id)),
        (SENDER_NONCE, core.OctetString(nonce)),
    ])
    return message, transaction_id, nonce, signer_cert


def _verify(signed: cms.SignedData, signer: cms.SignerInfo, content: bytes) -> x509.Certificate:
    sid = signer["sid"].chosen
    matches = [c.chosen for c in signed["certificates"] if c.name == "certificate"
               and c.chosen.serial_number == sid["serial_number"].native and c.chosen.issuer == sid["issuer"]]
    if not matches:
        raise SCEPClientError("CertRep signer certificate missing")
    cert = x509.load_der_x509_certificate(matches[0].dump())
    digest_name = signer["digest_algorithm"]["algorithm"].native
    attrs = {a["type"].dotted: a["values"] for a in signer["signed_attrs"]}
    if bytes(attrs["1.2.840.113549.1.9.4"][0].native) != hashlib.new(digest_name, content).digest():
        raise SCEPClientError("CertRep messageDigest mismatch")
    data, signature = signer["signed_attrs"].untag().dump(), signer["signature"].native
    public_key, algorithm = cert.public_key(), DIGESTS[digest_name]()
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            raise SCEPClientError("unsupported CA key")
    except InvalidSignature:
        raise SCEPClientError("CertRep signature invalid") from None
    return cert


def _open(envelope: bytes, key: rsa.RSAPrivateKey, recipient: x509.Certificate) -> bytes:
    enveloped = cms.ContentInfo.load(envelope)["content"]
    ours = [r.chosen for r in enveloped["recipient_infos"] if r.name == "ktri"
            and r.chosen["rid"].chosen["serial_number"].native == recipient.serial_number
            and r.chosen["rid"].chosen["issuer"].dump() == recipient.issuer.public_bytes()]
    if not ours:
        raise SCEPClientError("CertRep envelope not addressed to us")
    content_key = key.decrypt(ours[0]["encrypted_key"].native, padding.PKCS1v15())
    encrypted = enveloped["encrypted_content_info"]
    algorithm = encrypted["content_encryption_algorithm"]
    name = {v[0]: k for k, v in CIPHERS.items()}[algorithm["algorithm"].native]
    cipher = _cbc(name, content_key)
    decryptor = Cipher(cipher, modes.CBC(algorithm["parameters"].native)).decryptor()
    unpadder = block_padding.PKCS7(cipher.block_size).unpadder()
    padded = decryptor.update(encrypted["encrypted_content"].native) + decryptor.finalize()
    return unpadder.update(padded) + unpadder.finalize()


def parse_cert_rep(
    der: bytes,
    key: rsa.RSAPrivateKey,
    self_signed_cert: x509.Certificate,
    expected_nonce: bytes,
    *,
    ca_cert: x509.Certificate | None = None,
    transaction_id: str | None = None,
    issued_key: rsa.RSAPrivateKey | None = None,
) -> x509.Certificate:
    """Check a CertRep and return the issued certificate; raise SCEPFailure on FAILURE.

    `key`/`self_signed_cert` open the envelope (for a renewal: the old key and cert);
    `issued_key` (default `key`) picks the issued cert; `ca_cert` pins the signer.
    """
    try:
        info = cms.ContentInfo.load(der, strict=True)
        signed = info["content"]
        if info["content_type"].native != "signed_data" or len(signed["signer_infos"]) != 1:
            raise SCEPClientError("CertRep is not a singly signed SignedData")
        signer = signed["signer_infos"][0]
        econtent = signed["encap_content_info"]["content"]
        content = econtent.native if econtent.native is not None else b""
        signer_cert = _verify(signed, signer, content)
        if ca_cert is not None and signer_cert != ca_cert:
            raise SCEPClientError("CertRep not signed by the expected CA")
        attrs = {a["type"].dotted: core.load(a["values"][0].dump()).native for a in signer["signed_attrs"]}
        if attrs.get(MESSAGE_TYPE) != "3" or attrs.get(RECIPIENT_NONCE) != expected_nonce:
            raise SCEPClientError("not a CertRep for our nonce")
        if transaction_id is not None and attrs.get(TRANSACTION_ID) != transaction_id:
            raise SCEPClientError("CertRep transactionID mismatch")
        if not attrs.get(SENDER_NONCE):
            raise SCEPClientError("CertRep without senderNonce")
        if attrs.get(PKI_STATUS) == "2":
            raise SCEPFailure(int(attrs[FAIL_INFO]))
        if attrs.get(PKI_STATUS) != "0":
            raise SCEPClientError(f"unexpected pkiStatus {attrs.get(PKI_STATUS)!r}")
        certs = pkcs7.load_der_pkcs7_certificates(_open(content, key, self_signed_cert))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, UnsupportedAlgorithm) as exc:
        raise SCEPClientError(f"malformed CertRep: {exc!r}") from exc
    wanted = (issued_key or key).public_key()
    for cert in certs:
        if cert.public_key() == wanted:
            return cert
    raise SCEPClientError("no certificate for our key in the CertRep")
