"""Configuration profiles on a simulated device: reading them, and the FileVault key they escrow.

`read_profile` takes a .mobileconfig plain, CMS-signed (verified) or with an
`EncryptedPayloadContent`, for the enrollment profile and InstallProfile alike. A
FileVault2 payload turns FileVault on; an FDERecoveryKeyEscrow payload has the personal
recovery key sealed to its certificate and reported in SecurityInfo.
"""

from __future__ import annotations

import plistlib
import secrets
from typing import TYPE_CHECKING, Any

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

if TYPE_CHECKING:
    from espalier.sim.device import SimulatedDevice

_HASHES = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


class ProfileError(Exception):
    """A profile the device would refuse: not a plist, bad signature, undecryptable."""


def _verify_signers(signed: cms.SignedData, content: bytes) -> list[bytes]:
    """Check every SignerInfo over `content`; return the signer certificates (DER)."""
    certs = {(c.chosen.issuer.dump(), c.chosen.serial_number): c.chosen
             for c in signed["certificates"] if c.name == "certificate"}
    signers = []
    for info in signed["signer_infos"]:
        if info["sid"].name != "issuer_and_serial_number":
            raise ProfileError("signer identified by subject key identifier: unsupported")
        sid = info["sid"].chosen
        cert = certs.get((sid["issuer"].dump(), sid["serial_number"].native))
        if cert is None:
            raise ProfileError("signer certificate not embedded")
        algorithm = _HASHES[info["digest_algorithm"]["algorithm"].native]()
        data = content
        if info["signed_attrs"].native:
            digests = [a["values"][0].native for a in info["signed_attrs"] if a["type"].native == "message_digest"]
            hasher = hashes.Hash(algorithm)
            hasher.update(content)
            if digests != [hasher.finalize()]:
                raise ProfileError("messageDigest does not match the content")
            data = info["signed_attrs"].untag().dump()
        public_key = x509.load_der_x509_certificate(cert.dump()).public_key()
        try:
            if isinstance(public_key, rsa.RSAPublicKey):
                public_key.verify(info["signature"].native, data, padding.PKCS1v15(), algorithm)
            elif isinstance(public_key, ec.EllipticCurvePublicKey):
                public_key.verify(info["signature"].native, data, ec.ECDSA(algorithm))
            else:
                raise ProfileError("unsupported signer key")
        except InvalidSignature:
            raise ProfileError("profile signature is invalid") from None
        signers.append(cert.dump())
    return signers


def read_profile(data: bytes, identity: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None
                 ) -> tuple[dict[str, Any], list[bytes]]:
    """A .mobileconfig, plain or CMS-signed (verified), as (plist dict, signer certs DER).

    An `EncryptedPayloadContent` is opened with `identity` into `PayloadContent`.
    """
    signers: list[bytes] = []
    try:
        if not data.lstrip().startswith((b"<", b"bplist")):
            info = cms.ContentInfo.load(data)
            if info["content_type"].native != "signed_data":
                raise ProfileError("neither a plist nor CMS SignedData")
            signed = info["content"]
            data = signed["encap_content_info"]["content"].native or b""
            signers = _verify_signers(signed, data)
        profile = plistlib.loads(data)
        if isinstance(profile, dict) and "EncryptedPayloadContent" in profile:
            if identity is None:
                raise ProfileError("encrypted profile and no identity")
            inner = pkcs7.pkcs7_decrypt_der(profile.pop("EncryptedPayloadContent"), *identity, [])
            profile["PayloadContent"] = plistlib.loads(inner)
    except (ValueError, TypeError, KeyError, plistlib.InvalidFileException) as exc:
        raise ProfileError(f"unreadable profile: {exc!r}") from exc
    if not isinstance(profile, dict) or not isinstance(profile.get("PayloadIdentifier"), str):
        raise ProfileError("profile without PayloadIdentifier")
    return profile, signers


def installed_payloads(device: SimulatedDevice) -> list[dict[str, Any]]:
    return [p for profile in device.profiles.values() for p in profile.get("PayloadContent", [])
            if isinstance(p, dict)]


# ---- FileVault --------------------------------------------------------------------------

def filevault_on(device: SimulatedDevice) -> bool:
    """FileVault is on, or a FileVault2 payload turned it on (the user logged in since)."""
    return device.facts.filevault or (not device.filevault_deferred and any(
        p.get("PayloadType") == "com.apple.MCX.FileVault2" and p.get("Enable") == "On"
        for p in installed_payloads(device)))


def load_cert(data: bytes) -> x509.Certificate:
    """A certificate as a payload or command carries it, PEM or DER."""
    return x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----") \
        else x509.load_der_x509_certificate(data)


def seal_recovery_key(prk: str, cert: x509.Certificate) -> bytes:
    """The PRK as macOS escrows it: DER CMS EnvelopedData (AES-256-CBC) to `cert`."""
    return (pkcs7.PKCS7EnvelopeBuilder().set_data(prk.encode()).add_recipient(cert)
            .set_content_encryption_algorithm(algorithms.AES256)
            .encrypt(serialization.Encoding.DER, []))


def new_recovery_key() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(6))


def escrowed_recovery_key(device: SimulatedDevice) -> dict[str, Any]:
    """The SecurityInfo keys escrowing the PRK, when FileVault is on and an escrow payload is installed."""
    payloads = installed_payloads(device)
    escrow = next((p for p in payloads if p.get("PayloadType") == "com.apple.security.FDERecoveryKeyEscrow"), None)
    if escrow is None or not filevault_on(device):
        return {}
    cert_payload = next((p for p in payloads if p.get("PayloadUUID") == escrow.get("EncryptCertPayloadUUID")), None)
    if cert_payload is None or not isinstance(cert_payload.get("PayloadContent"), bytes):
        return {}
    return {"FDE_PersonalRecoveryKeyCMS": seal_recovery_key(device.recovery_key, load_cert(cert_payload["PayloadContent"])),
            "FDE_PersonalRecoveryKeyDeviceKey": escrow.get("DeviceKey") or device.facts.serial}


def payload_problem(profile: dict[str, Any]) -> str | None:
    """What iOS and macOS refuse in a readable profile: a payload without its type, identifier or UUID."""
    content = profile.get("PayloadContent", [])
    if not isinstance(content, list):
        return "The profile’s PayloadContent is not an array."
    for payload in content:
        if not isinstance(payload, dict):
            return "A payload is not a dictionary."
        for key in ("PayloadType", "PayloadIdentifier", "PayloadUUID"):
            if not isinstance(payload.get(key), str) or not payload[key]:
                return f"The payload is missing the required key “{key}”."
    return None
