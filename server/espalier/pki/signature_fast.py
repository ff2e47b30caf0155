"""The common shape of a device's Mdm-Signature, verified without asn1crypto.

Every signed check-in and connect carries a detached CMS SignedData; asn1crypto's lazy
parse of it cost several times the RSA verification itself. ``verify`` reads that one
shape straight from the DER: ContentInfo/SignedData in definite lengths, no trailing
bytes, one SignerInfo named by issuerAndSerialNumber (byte-equal issuer) or SKI, signed
attributes with one messageDigest and at most one contentType, a PKCS#1 v1.5 RSA or ECDSA
signature. It answers the certificate only when all of that verifies; for anything else
(another shape, a forgery, garbage) it answers None and ``cms.verify_detached`` judges with
the full parser. So it can make a valid signature cheaper, never an invalid one valid.
"""
from __future__ import annotations

from asn1crypto import algos, core
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from . import cms

_SEQUENCE, _SET, _INTEGER, _OCTETS, _OID = 0x30, 0x31, 0x02, 0x04, 0x06
_CTX0, _CTX1, _CTX0_PRIMITIVE = 0xA0, 0xA1, 0x80
MAX_ELEMENTS = 64  # in one structure (certificates, attributes): more is not a device's signature


def _oid(dotted: str) -> bytes:
    return core.ObjectIdentifier(dotted).dump()


_SIGNED_DATA = _oid("1.2.840.113549.1.7.2")
_MESSAGE_DIGEST = _oid(cms._MESSAGE_DIGEST)
_CONTENT_TYPE = _oid(cms._CONTENT_TYPE)
_DIGESTS = {algos.DigestAlgorithmId(name).dump(): name for name in cms.HASHES}
_RSA = {_oid(dotted) for dotted in cms._PKCS1_SIGS}
_ECDSA = {_oid(dotted) for dotted in cms._ECDSA_SIGS}


class _Shape(Exception):
    """Not the shape this reader knows."""


def _tlv(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the element at ``pos``; DER definite lengths only."""
    if pos + 2 > end:
        raise _Shape
    tag, first = buf[pos], buf[pos + 1]
    if tag & 0x1F == 0x1F:
        raise _Shape  # high tag numbers: none in this structure
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise _Shape  # indefinite (BER) or absurd
        length = int.from_bytes(buf[pos:pos + count], "big")
        pos += count
    if pos + length > end:
        raise _Shape
    return tag, pos, pos + length


def _elements(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """The elements between ``start`` and ``end``: (tag, element start, content start, end)."""
    out = []
    while start < end:
        if len(out) == MAX_ELEMENTS:
            raise _Shape
        tag, s, e = _tlv(buf, start, end)
        out.append((tag, start, s, e))
        start = e
    return out


def _expect(element: tuple[int, int, int, int], tag: int) -> tuple[int, int, int, int]:
    if element[0] != tag:
        raise _Shape
    return element


def verify(signature_der: bytes, content: bytes) -> x509.Certificate | None:
    try:
        return _verify(signature_der, content)
    except Exception:  # noqa: BLE001 - hostile bytes: whatever breaks, the full parser judges them
        return None


def _verify(der: bytes, content: bytes) -> x509.Certificate | None:
    tag, s, e = _tlv(der, 0, len(der))
    if tag != _SEQUENCE or e != len(der):
        raise _Shape
    content_type, explicit = _elements(der, s, e)
    if der[content_type[1]:content_type[3]] != _SIGNED_DATA:
        raise _Shape
    _, _, s, e = _expect(explicit, _CTX0)
    (signed_data,) = _elements(der, s, e)
    _, _, s, e = _expect(signed_data, _SEQUENCE)
    parts = _elements(der, s, e)
    if len(parts) < 4:
        raise _Shape
    _expect(parts[0], _INTEGER)
    _expect(parts[1], _SET)  # digestAlgorithms: the signer's own is the one that counts
    econtent_type, econtent = _encapsulated(der, _expect(parts[2], _SEQUENCE))
    if econtent is not None and econtent != content:
        raise _Shape
    certificates, rest = [], parts[3:]
    if rest and rest[0][0] == _CTX0:
        certificates = [c for c in _elements(der, rest[0][2], rest[0][3]) if c[0] == _SEQUENCE]
        rest = rest[1:]
    if rest and rest[0][0] == _CTX1:
        rest = rest[1:]  # crls
    if len(rest) != 1:
        raise _Shape
    signers = _elements(der, _expect(rest[0], _SET)[2], rest[0][3])
    if len(signers) != 1:
        raise _Shape
    return _verify_signer(der, _expect(signers[0], _SEQUENCE), certificates, econtent_type, content)


def _encapsulated(der: bytes, info) -> tuple[bytes, bytes | None]:
    parts = _elements(der, info[2], info[3])
    if not parts or len(parts) > 2:
        raise _Shape
    econtent_type = der[_expect(parts[0], _OID)[1]:parts[0][3]]
    if len(parts) == 1:
        return econtent_type, None
    (octets,) = _elements(der, _expect(parts[1], _CTX0)[2], parts[1][3])
    _expect(octets, _OCTETS)
    return econtent_type, der[octets[2]:octets[3]]


def _verify_signer(der: bytes, signer, certificates, econtent_type: bytes, content: bytes) -> x509.Certificate | None:
    parts = _elements(der, signer[2], signer[3])
    if len(parts) < 6:
        raise _Shape
    _expect(parts[0], _INTEGER)
    sid, digest_algorithm = parts[1], _expect(parts[2], _SEQUENCE)
    attrs = _expect(parts[3], _CTX0)  # no signed attributes: the full parser's case
    signature_algorithm, signature = _expect(parts[4], _SEQUENCE), _expect(parts[5], _OCTETS)
    if len(parts) > 7 or (len(parts) == 7 and parts[6][0] != _CTX1):
        raise _Shape
    digest_oid = _elements(der, digest_algorithm[2], digest_algorithm[3])[0]
    digest_name = _DIGESTS.get(der[digest_oid[1]:digest_oid[3]])
    if digest_name is None:
        raise _Shape
    cert = _signer_certificate(der, sid, certificates)
    if cert is None:
        raise _Shape
    digest, declared_type = _attributes(der, attrs)
    if digest is None or digest != cms.digest(digest_name, content):
        raise _Shape
    if declared_type is not None and declared_type != econtent_type:
        raise _Shape
    signed = b"\x31" + der[attrs[1] + 1:attrs[3]]  # the attributes as a SET, as they were signed
    sig_oid = _elements(der, signature_algorithm[2], signature_algorithm[3])[0]
    sig_oid = der[sig_oid[1]:sig_oid[3]]
    key, hash_ = cert.public_key(), cms.hash_for(digest_name)
    value = der[signature[2]:signature[3]]
    try:
        if sig_oid in _RSA and isinstance(key, rsa.RSAPublicKey):
            key.verify(value, signed, padding.PKCS1v15(), hash_)
        elif sig_oid in _ECDSA and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(value, signed, ec.ECDSA(hash_))
        else:
            raise _Shape
    except InvalidSignature:
        raise _Shape from None
    return cert


def _signer_certificate(der: bytes, sid, certificates) -> x509.Certificate | None:
    if sid[0] == _SEQUENCE:  # issuerAndSerialNumber
        issuer, serial = _elements(der, sid[2], sid[3])
        _expect(issuer, _SEQUENCE)
        _expect(serial, _INTEGER)
        issuer_der, number = der[issuer[1]:issuer[3]], int.from_bytes(der[serial[2]:serial[3]], "big", signed=True)
        for c in certificates:
            cert, cert_serial, cert_issuer, _ = cms._embedded_certificate(der[c[1]:c[3]])
            if cert_serial == number and cert_issuer == issuer_der:
                return cert
        return None
    if sid[0] == _CTX0_PRIMITIVE:  # subjectKeyIdentifier
        ski = der[sid[2]:sid[3]]
        for c in certificates:
            cert, _, _, cert_ski = cms._embedded_certificate(der[c[1]:c[3]])
            if cert_ski == ski:
                return cert
    return None


def _attributes(der: bytes, attrs) -> tuple[bytes | None, bytes | None]:
    """(messageDigest, contentType OID) of the signed attributes; a repeated one is not this shape."""
    digest = declared_type = None
    seen: set[bytes] = set()
    for attr in _elements(der, attrs[2], attrs[3]):
        oid, values = _elements(der, _expect(attr, _SEQUENCE)[2], attr[3])
        oid = der[_expect(oid, _OID)[1]:oid[3]]
        if oid in seen:
            raise _Shape
        seen.add(oid)
        if oid not in (_MESSAGE_DIGEST, _CONTENT_TYPE):
            continue
        (value,) = _elements(der, _expect(values, _SET)[2], values[3])
        if oid == _MESSAGE_DIGEST:
            digest = der[_expect(value, _OCTETS)[2]:value[3]]
        else:
            declared_type = der[_expect(value, _OID)[1]:value[3]]
    return digest, declared_type
