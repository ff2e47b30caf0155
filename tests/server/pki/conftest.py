"""Fixtures for the PKI tests: CAs and keys (session-wide, RSA keygen is slow) and openssl."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from asn1crypto import cms, core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from espalier.pki import ca

OPENSSL = shutil.which("openssl")


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@pytest.fixture(scope="session")
def root_ca() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    return ca.create_ca("Espalier Test CA", "Espalier")


@pytest.fixture(scope="session")
def other_ca() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    return ca.create_ca("Some Other CA")


@pytest.fixture(scope="session")
def device_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def second_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def device_cert(root_ca, device_key) -> x509.Certificate:
    csr = x509.CertificateSigningRequestBuilder().subject_name(name("device")).sign(device_key, hashes.SHA256())
    return ca.issue_certificate(*root_ca, csr)


@pytest.fixture(scope="session")
def openssl() -> Callable[..., bytes]:
    """Run openssl with args; return stdout, fail the test with stderr on error."""
    if OPENSSL is None:
        pytest.skip("openssl command line not installed")

    def run(*args: str | Path, stdin: bytes | None = None, check: bool = True) -> bytes:
        done = subprocess.run([OPENSSL, *map(str, args)], input=stdin, capture_output=True, timeout=60)
        if check and done.returncode != 0:
            pytest.fail(f"openssl {' '.join(map(str, args))} failed: {done.stderr.decode(errors='replace')}")
        return done.stdout if check else bytes([done.returncode])

    return run


@pytest.fixture()
def write_pem(tmp_path: Path) -> Callable[[str, object], Path]:
    """Write a certificate, key or raw bytes under tmp_path; return the path."""

    def write(filename: str, obj: object) -> Path:
        path = tmp_path / filename
        if isinstance(obj, x509.Certificate):
            path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
        elif isinstance(obj, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            path.write_bytes(obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        else:
            assert isinstance(obj, bytes)
            path.write_bytes(obj)
        return path

    return write


def _resign(der: bytes, key: rsa.RSAPrivateKey, edit: Callable[[cms.SignerInfo], None] = lambda info: None,
            digest: str | None = None) -> bytes:
    """Let `edit` change a SignedData's signer (attributes, digest...), then sign it again with `key`.

    Produces messages whose signature is valid but whose content is wrong, to test the
    checks behind the signature.
    """
    info = cms.ContentInfo.load(der)
    signer = info["content"]["signer_infos"][0]
    if digest is not None:
        signer["digest_algorithm"] = {"algorithm": digest}
    edit(signer)
    attrs = cms.CMSAttributes.load(b"\x31" + signer["signed_attrs"].dump(force=True)[1:])
    algorithm = getattr(hashes, (digest or signer["digest_algorithm"]["algorithm"].native).upper())()
    signer["signature"] = key.sign(attrs.dump(force=True), padding.PKCS1v15(), algorithm)
    return info.dump(force=True)


def _set_attribute(signer: cms.SignerInfo, oid: str, value: core.Asn1Value | None) -> None:
    """Replace (or with None, drop) the signed attribute `oid`."""
    kept = [a for a in signer["signed_attrs"] if a["type"].dotted != oid]
    if value is not None:
        kept.append(cms.CMSAttribute({"type": oid, "values": [value]}))
    signer["signed_attrs"] = cms.CMSAttributes(kept)


@pytest.fixture(scope="session")
def resign() -> Callable[..., bytes]:
    return _resign


@pytest.fixture(scope="session")
def set_attribute() -> Callable[..., None]:
    return _set_attribute
