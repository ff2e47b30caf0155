"""The simulated device's CMS signatures: the Mdm-Signature header and SCEP SignedData.

Deliberately independent of espalier.pki (cryptography and asn1crypto only), so the
simulator catches server bugs instead of sharing them. asn1crypto builds the structure
because cryptography's PKCS7SignatureBuilder offers no SHA-1, which devices still send.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from typing import TypeAlias

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

DeviceKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {"sha1": hashes.SHA1, "sha256": hashes.SHA256}


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def signed_data(
    content: bytes,
    cert: x509.Certificate,
    key: DeviceKey,
    digest: str = "sha256",
    attributes: Sequence[tuple[str, core.Asn1Value]] = (),
    detached: bool = False,
) -> bytes:
    """DER ContentInfo(SignedData) over `content`, signed attributes included, only `cert` embedded."""
    algorithm = DIGESTS[digest]()
    hasher = hashes.Hash(algorithm)
    hasher.update(content)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    signed_attrs = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "signing_time", "values": [cms.Time(name="utc_time", value=now)]}),
        cms.CMSAttribute({"type": "message_digest", "values": [hasher.finalize()]}),
        *(cms.CMSAttribute({"type": oid, "values": [value]}) for oid, value in attributes),
    ])
    # Signed over the DER SET OF (tag 0x31), which is how CMSAttributes dumps.
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signed_attrs.dump(), padding.PKCS1v15(), algorithm)
        signature_algorithm = "rsassa_pkcs1v15"
    else:
        signature = key.sign(signed_attrs.dump(), ec.ECDSA(algorithm))
        signature_algorithm = f"{digest}_ecdsa"
    asn1_cert = _asn1_cert(cert)
    signer = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier(name="issuer_and_serial_number", value=cms.IssuerAndSerialNumber({
            "issuer": asn1_cert.issuer, "serial_number": asn1_cert.serial_number})),
        "digest_algorithm": {"algorithm": digest},
        "signed_attrs": signed_attrs,
        "signature_algorithm": {"algorithm": signature_algorithm},
        "signature": signature,
    })
    encap: dict[str, object] = {"content_type": "data"}
    if not detached:
        encap["content"] = content
    body = cms.SignedData({
        "version": "v1",
        "digest_algorithms": [{"algorithm": digest}],
        "encap_content_info": encap,
        "certificates": [asn1_cert],
        "signer_infos": [signer],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": body}).dump()


def mdm_signature(body: bytes, cert: x509.Certificate, key: DeviceKey, digest: str = "sha256") -> str:
    """The `Mdm-Signature` header value: base64 detached SignedData over the raw body."""
    if digest not in DIGESTS:
        raise ValueError(f"unsupported digest {digest}")
    return base64.b64encode(signed_data(body, cert, key, digest, detached=True)).decode("ascii")
