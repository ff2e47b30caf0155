"""CMS (RFC 5652) primitives: verify and make signatures, open and seal envelopes.

cryptography can neither verify SignedData, add custom signed attributes nor use 3DES/DES
envelopes, so structures are parsed with asn1crypto, the ones we write are DER by hand
(``der``), and only the primitives come from cryptography. Every input is hostile: failures
surface as CMSError and nothing else.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ParamSpec, TypeAlias, TypeVar

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as block_padding
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import pkcs7

from espalier.pki import der


class CMSError(Exception):
    """The CMS structure is malformed, unsupported or fails verification."""


class CMSAlgorithmError(CMSError):
    """A digest, signature, key-transport or content cipher we do not support."""


# What asn1crypto and cryptography raise on malformed input (parsing is lazy, so anywhere).
MALFORMED = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError,
             x509.InvalidVersion, x509.DuplicateExtension, x509.UnsupportedGeneralNameType)

HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}
# Content ciphers: name -> (OID, key bytes). Single DES is 3DES with K,K,K.
CIPHERS: dict[str, tuple[str, int]] = {
    "aes128": ("2.16.840.1.101.3.4.1.2", 16), "aes192": ("2.16.840.1.101.3.4.1.22", 24),
    "aes256": ("2.16.840.1.101.3.4.1.42", 32), "des3": ("1.2.840.113549.3.7", 24),
    "des": ("1.3.14.3.2.7", 8),
}
_CIPHER_BY_OID = {oid: name for name, (oid, _) in CIPHERS.items()}
_RSA_PKCS1 = "1.2.840.113549.1.1.1"
_RSA_OAEP = "1.2.840.113549.1.1.7"
_PKCS1_SIGS = {"1.2.840.113549.1.1." + n for n in ("1", "5", "11", "12", "13", "14")}
_PSS_SIG = "1.2.840.113549.1.1.10"
# Some signers put ecPublicKey where ecdsa-with-SHAx belongs.
_ECDSA_SIGS = {"1.2.840.10045.2.1", "1.2.840.10045.4.1"} | {f"1.2.840.10045.4.3.{n}" for n in range(1, 5)}
_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_CONTENT_TYPE = "1.2.840.113549.1.9.3"

SigningKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_P = ParamSpec("_P")
_R = TypeVar("_R")


def guarded(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn the exceptions malformed input raises inside `func` into CMSError."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return func(*args, **kwargs)
        except UnsupportedAlgorithm as exc:
            raise CMSAlgorithmError(f"unsupported algorithm: {exc}") from exc
        except MALFORMED as exc:
            raise CMSError(f"malformed CMS ({type(exc).__name__})") from exc

    return wrapper


def hash_for(name: str) -> hashes.HashAlgorithm:
    if name not in HASHES:
        raise CMSAlgorithmError(f"unsupported digest {name}")
    return HASHES[name]()


def digest(name: str, data: bytes) -> bytes:
    h = hashes.Hash(hash_for(name))
    h.update(data)
    return h.finalize()


def present(value: Any) -> bool:
    """True when an asn1crypto OPTIONAL field was actually encoded."""
    return not isinstance(value, core.Void)


def _load(der: bytes, content_type: str) -> Any:
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != content_type:
        raise CMSError(f"not {content_type}")
    return info["content"]


def _asn1_name(name: x509.Name) -> asn1_x509.Name:
    return asn1_x509.Name.load(name.public_bytes())


def _ski(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def _matches(identifier: Any, serial: int, issuer: asn1_x509.Name, ski: bytes | None) -> bool:
    """Does a SignerIdentifier / RecipientIdentifier name this certificate?"""
    if identifier.name == "issuer_and_serial_number":
        chosen = identifier.chosen
        if chosen["serial_number"].native != serial:
            return False
        # Byte equality first: asn1crypto's Name == runs stringprep on every RDN (slow on the hot path).
        return chosen["issuer"].dump() == issuer.dump() or chosen["issuer"] == issuer
    return ski is not None and identifier.chosen.native == ski


# ---- SignedData -------------------------------------------------------------------------


@guarded
def load_signed_data(der: bytes) -> cms.SignedData:
    return _load(der, "signed_data")


@guarded
def sole_signer(signed_data: cms.SignedData) -> cms.SignerInfo:
    infos = signed_data["signer_infos"]
    if len(infos) != 1:
        raise CMSError(f"expected one signer, found {len(infos)}")
    return infos[0]


@guarded
def signed_attribute(signer_info: cms.SignerInfo, oid: str) -> core.Asn1Value | None:
    """The single value of signed attribute `oid`, parsed as its universal type, or None."""
    return signed_attributes(signer_info, oid)[oid]


@guarded
def signed_attributes(signer_info: cms.SignerInfo, *oids: str) -> dict[str, core.Asn1Value | None]:
    """The single values of signed attributes ``oids`` (None where absent), in one pass."""
    attrs = signer_info["signed_attrs"]
    found: dict[str, list] = {oid: [] for oid in oids}
    for attr in attrs if present(attrs) else ():
        values = found.get(attr["type"].dotted)
        if values is not None:
            values.append(attr["values"])
    out: dict[str, core.Asn1Value | None] = {}
    for oid, matches in found.items():
        if len(matches) > 1 or (matches and len(matches[0]) != 1):
            raise CMSError(f"attribute {oid} must have exactly one value")
        out[oid] = core.load(matches[0][0].dump(), strict=True) if matches else None
    return out


@guarded
def encapsulated_content(signed_data: cms.SignedData) -> bytes | None:
    content = signed_data["encap_content_info"]["content"]
    if not present(content):
        return None
    value = content.native
    if not isinstance(value, bytes):
        raise CMSError("encapsulated content is not data")
    return value


@guarded
def signer_certificate(signed_data: cms.SignedData, signer_info: cms.SignerInfo) -> x509.Certificate:
    """The certificate named by the signer's sid (issuerAndSerialNumber or SKI)."""
    certs = signed_data["certificates"]
    for choice in certs if present(certs) else ():
        if choice.name != "certificate":
            continue
        try:
            cert, serial, issuer_der, ski = _embedded_certificate(choice.chosen.dump())
        except MALFORMED:
            continue  # not one we could use; if it was the signer's, it is "not included"
        if _matches(signer_info["sid"], serial, asn1_x509.Name.load(issuer_der), ski):
            return cert
    raise CMSError("signer certificate not included")


@functools.lru_cache(maxsize=4096)
def _embedded_certificate(der: bytes) -> tuple[x509.Certificate, int, bytes, bytes | None]:
    """(certificate, serial, issuer DER, SKI) of a certificate embedded in a SignedData, parsed
    once: a device embeds the same one in every Mdm-Signature, and asn1crypto's parse of it was
    most of a signed connect's CPU."""
    cert = x509.load_der_x509_certificate(der)
    return cert, cert.serial_number, cert.issuer.public_bytes(), _ski(cert)


def _check_signature(key: object, signer_info: cms.SignerInfo, data: bytes, hash_: hashes.HashAlgorithm) -> None:
    algorithm = signer_info["signature_algorithm"]
    oid = algorithm["algorithm"].dotted
    signature = signer_info["signature"].native
    try:
        if oid in _PKCS1_SIGS and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hash_)
        elif oid == _PSS_SIG and isinstance(key, rsa.RSAPublicKey):
            params = algorithm["parameters"]
            mgf = params["mask_gen_algorithm"]
            if mgf["algorithm"].native != "mgf1":
                raise CMSAlgorithmError("unsupported PSS mask generation")
            pss = padding.PSS(padding.MGF1(hash_for(mgf["parameters"]["algorithm"].native)),
                              params["salt_length"].native)
            key.verify(signature, data, pss, hash_for(params["hash_algorithm"]["algorithm"].native))
        elif oid in _ECDSA_SIGS and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hash_))
        else:
            raise CMSAlgorithmError(f"unsupported signature algorithm {oid} for this key")
    except InvalidSignature:
        raise CMSError("bad signature") from None


@guarded
def verify_signer(signed_data: cms.SignedData, content: bytes) -> x509.Certificate:
    """Verify the sole SignerInfo over `content`; return the signer certificate."""
    info = sole_signer(signed_data)
    hash_ = hash_for(info["digest_algorithm"]["algorithm"].native)
    cert = signer_certificate(signed_data, info)
    if present(info["signed_attrs"]):
        attributes = signed_attributes(info, _MESSAGE_DIGEST, _CONTENT_TYPE)
        message_digest = attributes[_MESSAGE_DIGEST]
        if not isinstance(message_digest, core.OctetString):
            raise CMSError("messageDigest attribute missing")
        if message_digest.native != digest(hash_.name, content):
            raise CMSError("messageDigest does not match the content")
        content_type = attributes[_CONTENT_TYPE]
        econtent_type = signed_data["encap_content_info"]["content_type"].dotted
        if content_type is not None and getattr(content_type, "dotted", None) != econtent_type:
            raise CMSError("contentType attribute does not match")
        # The signature covers the attributes' DER with the universal SET tag, not [0].
        data = b"\x31" + info["signed_attrs"].dump()[1:]
    else:
        data = content
    _check_signature(cert.public_key(), info, data, hash_)
    return cert


def verify_detached(signature_der: bytes, content: bytes) -> x509.Certificate:
    """Verify a detached SignedData (e.g. the Mdm-Signature header) over `content`.

    Returns the signer certificate; the caller decides whether to trust it.
    """
    signed_data = load_signed_data(signature_der)
    embedded = encapsulated_content(signed_data)
    if embedded is not None and embedded != content:
        raise CMSError("encapsulated content differs from the body")
    return verify_signer(signed_data, content)


_DIGEST_OIDS = {"sha1": "1.3.14.3.2.26", "sha256": "2.16.840.1.101.3.4.2.1", "sha384": "2.16.840.1.101.3.4.2.2",
                "sha512": "2.16.840.1.101.3.4.2.3"}
_ECDSA_OIDS = {"sha1": "1.2.840.10045.4.1", "sha256": "1.2.840.10045.4.3.2", "sha384": "1.2.840.10045.4.3.3",
               "sha512": "1.2.840.10045.4.3.4"}
_DATA, _SIGNED_DATA, _ENVELOPED_DATA = "1.2.840.113549.1.7.1", "1.2.840.113549.1.7.2", "1.2.840.113549.1.7.3"


def _issuer_and_serial(cert: x509.Certificate) -> bytes:
    return der.sequence(cert.issuer.public_bytes(), der.integer(cert.serial_number))


@guarded
def sign_with_attributes(content: bytes | None, cert: x509.Certificate, key: SigningKey, digest_name: str,
                         attributes: Sequence[tuple[str, core.Asn1Value]] = ()) -> bytes:
    """SignedData with extra signed attributes (OID, value); eContent omitted when None."""
    digest_algorithm = der.algorithm(_DIGEST_OIDS[hash_for(digest_name).name])
    attrs = der.set_of([der.sequence(der.oid(oid), der.set_of([value])) for oid, value in (
        (_CONTENT_TYPE, der.oid(_DATA)), (_MESSAGE_DIGEST, der.octet_string(digest(digest_name, content or b""))),
        *((oid, value.dump()) for oid, value in attributes))])
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(attrs, padding.PKCS1v15(), hash_for(digest_name))
        signature_algorithm = der.algorithm(_RSA_PKCS1)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(attrs, ec.ECDSA(hash_for(digest_name)))
        signature_algorithm = der.algorithm(_ECDSA_OIDS[digest_name], None)
    else:
        raise CMSAlgorithmError("signing key must be RSA or EC")
    signer = der.sequence(der.integer(1), _issuer_and_serial(cert), digest_algorithm,
                          b"\xa0" + attrs[1:],  # [0] IMPLICIT: the SET's contents under the context tag
                          signature_algorithm, der.octet_string(signature))
    encap = der.oid(_DATA) + (der.explicit(0, der.octet_string(content)) if content is not None else b"")
    signed = der.sequence(der.integer(1), der.set_of([digest_algorithm]), der.sequence(encap),
                          der.explicit(0, cert.public_bytes(serialization.Encoding.DER)), der.set_of([signer]))
    return der.sequence(der.oid(_SIGNED_DATA), der.explicit(0, signed))


def sign_attached(content: bytes, cert: x509.Certificate, key: SigningKey,
                  chain: Iterable[x509.Certificate] = ()) -> bytes:
    """DER SignedData embedding `content` (SHA-256), e.g. a signed .mobileconfig."""
    builder = pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(cert, key, hashes.SHA256())
    for extra in chain:
        builder = builder.add_certificate(extra)
    try:
        return builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    except (TypeError, ValueError) as exc:
        raise CMSError(f"cannot sign: {exc}") from exc


def certs_only(certs: Iterable[x509.Certificate], *, keep_order: bool = False) -> bytes:
    """Degenerate SignedData (no signers) carrying certificates.

    DER sorts the certificates SET (strict parsers such as cryptography's warn otherwise);
    ``keep_order`` writes the caller's order instead (BER), for readers that take the first
    certificate as the one that matters.
    """
    ders = [c.public_bytes(serialization.Encoding.DER) for c in certs]
    if not ders:
        raise CMSError("no certificates")
    if not keep_order:
        ders.sort()  # DER SET OF order: distinct TLVs compare like their padded encodings
    signed_data = der.sequence(
        der.integer(1),
        der.set_of([]),  # digestAlgorithms: none
        der.sequence(der.oid(_DATA)),  # encapContentInfo: data, no content
        der.explicit(0, b"".join(ders)),  # [0] IMPLICIT certificates
        der.set_of([]),  # signerInfos: none
    )
    return der.sequence(der.oid(_SIGNED_DATA), der.explicit(0, signed_data))


# ---- EnvelopedData ----------------------------------------------------------------------


def _block_cipher(name: str, key: bytes) -> BlockCipherAlgorithm:
    if name.startswith("aes"):
        return algorithms.AES(key)
    return TripleDES(key * 3 if name == "des" else key)


def _unwrap_key(recipient: cms.KeyTransRecipientInfo, key: rsa.RSAPrivateKey) -> bytes:
    algorithm = recipient["key_encryption_algorithm"]
    oid = algorithm["algorithm"].dotted
    if not isinstance(key, rsa.RSAPrivateKey) or oid not in (_RSA_PKCS1, _RSA_OAEP):
        raise CMSAlgorithmError(f"unsupported key transport {oid}")
    if oid == _RSA_OAEP:
        params = algorithm["parameters"]
        label = params["p_source_algorithm"]["parameters"].native or None
        scheme: padding.AsymmetricPadding = padding.OAEP(
            padding.MGF1(hash_for(params["mask_gen_algorithm"]["parameters"]["algorithm"].native)),
            hash_for(params["hash_algorithm"]["algorithm"].native), label)
    else:
        scheme = padding.PKCS1v15()
    return key.decrypt(recipient["encrypted_key"].native, scheme)


@guarded
def open_enveloped(der: bytes, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> tuple[bytes, str]:
    """Decrypt EnvelopedData addressed to `cert`; return (content, cipher name)."""
    enveloped = _load(der, "enveloped_data")
    issuer, ski = _asn1_name(cert.issuer), _ski(cert)
    recipients = [r.chosen for r in enveloped["recipient_infos"] if r.name == "ktri"]
    mine = [r for r in recipients if _matches(r["rid"], cert.serial_number, issuer, ski)]
    if not mine:
        raise CMSError("no recipientInfo for our certificate")
    encrypted = enveloped["encrypted_content_info"]
    algorithm = encrypted["content_encryption_algorithm"]
    name = _CIPHER_BY_OID.get(algorithm["algorithm"].dotted)
    if name is None:
        raise CMSAlgorithmError(f"unsupported content cipher {algorithm['algorithm'].dotted}")
    iv = core.load(algorithm["parameters"].dump(), strict=True)
    ciphertext = encrypted["encrypted_content"].native
    if not isinstance(iv, core.OctetString) or not isinstance(ciphertext, bytes):
        raise CMSError("malformed encrypted content")
    # One message for every failure below, so the reply is no padding oracle.
    try:
        content_key = _unwrap_key(mine[0], key)
        if len(content_key) != CIPHERS[name][1]:
            raise ValueError("content key length")
        cipher = _block_cipher(name, content_key)
        decryptor = Cipher(cipher, modes.CBC(iv.native)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = block_padding.PKCS7(cipher.block_size).unpadder()
        return unpadder.update(padded) + unpadder.finalize(), name
    except ValueError:
        raise CMSError("decryption failed") from None


def decrypt_enveloped(der: bytes, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> bytes:
    """Decrypt EnvelopedData (RSA key transport; AES-CBC, 3DES-CBC or DES-CBC)."""
    return open_enveloped(der, cert, key)[0]


def _odd_parity(key: bytes) -> bytes:
    return bytes(b & 0xFE | (bin(b & 0xFE).count("1") + 1) % 2 for b in key)


def encrypt_enveloped(content: bytes, recipient_cert: x509.Certificate, cipher: str = "aes256") -> bytes:
    """EnvelopedData for `recipient_cert` (RSA PKCS#1 v1.5 key transport), DER."""
    if cipher not in ("aes128", "aes256", "des3"):
        raise CMSAlgorithmError(f"unsupported cipher {cipher}")
    oid, key_size = CIPHERS[cipher]
    content_key = os.urandom(key_size)
    if cipher == "des3":
        content_key = _odd_parity(content_key)
    algorithm = _block_cipher(cipher, content_key)
    iv = os.urandom(algorithm.block_size // 8)
    padder = block_padding.PKCS7(algorithm.block_size).padder()
    encryptor = Cipher(algorithm, modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padder.update(content) + padder.finalize()) + encryptor.finalize()
    public_key = recipient_cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise CMSAlgorithmError("recipient key must be RSA")
    recipient = der.sequence(der.integer(0), _issuer_and_serial(recipient_cert), der.algorithm(_RSA_PKCS1),
                             der.octet_string(public_key.encrypt(content_key, padding.PKCS1v15())))
    encrypted = der.sequence(der.oid(_DATA), der.algorithm(oid, der.octet_string(iv)),
                             der.tlv(0x80, ciphertext))  # [0] IMPLICIT OCTET STRING
    enveloped = der.sequence(der.integer(0), der.set_of([recipient]), encrypted)
    return der.sequence(der.oid(_ENVELOPED_DATA), der.explicit(0, enveloped))
