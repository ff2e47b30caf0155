"""The built-in CA: certificate contents, CSR checks, and verify_chain cross-checked with openssl."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from espalier.pki import ca


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_csr(key, common_name: str = "device") -> x509.CertificateSigningRequest:
    return x509.CertificateSigningRequestBuilder().subject_name(name(common_name)).sign(key, hashes.SHA256())


def make_ca_cert(issuer, key, common_name: str, path_length: int | None = None) -> x509.Certificate:
    """A CA certificate for `key`, issued by (cert, key) `issuer`, or self-signed if None."""
    issuer_name, issuer_key = (issuer[0].subject, issuer[1]) if issuer else (name(common_name), key)
    now = dt.datetime.now(dt.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name(common_name)).issuer_name(issuer_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .sign(issuer_key, hashes.SHA256()))


@pytest.fixture(scope="module")
def open_root(second_key):
    """A root without pathLen, so it may have intermediates (ours has pathLen 0)."""
    return make_ca_cert(None, second_key, "Open Root"), second_key


def test_new_ca_is_a_self_signed_signing_ca(root_ca):
    cert, key = root_ca
    assert key.key_size == 2048
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Espalier"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and usage.digital_signature
    assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    cert.verify_directly_issued_by(cert)


def test_issued_certificate_is_a_client_cert_for_the_csr_key(root_ca, device_key):
    cert = ca.issue_certificate(*root_ca, make_csr(device_key), validity_days=30)
    assert cert.public_key() == device_key.public_key()
    assert cert.subject == name("device") and cert.issuer == root_ca[0].subject
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH])
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = root_ca[0].extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert 0 < cert.serial_number < 2**128
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 30
    ca.verify_chain(cert, [root_ca[0]])


def test_serials_are_random(root_ca, device_key):
    csr = make_csr(device_key)
    assert ca.issue_certificate(*root_ca, csr).serial_number != ca.issue_certificate(*root_ca, csr).serial_number


def test_subject_override_and_extra_extensions_are_applied(root_ca, device_key):
    san = x509.SubjectAlternativeName([x509.DNSName("device.example")])
    cert = ca.issue_certificate(*root_ca, make_csr(device_key), subject=name("override"),
                                extra_extensions=[(san, False)])
    assert cert.subject == name("override")
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value == san


def test_validity_never_outlives_the_ca(device_key):
    short_ca = ca.create_ca("Short CA", validity_days=10)
    cert = ca.issue_certificate(*short_ca, make_csr(device_key), validity_days=365)
    assert cert.not_valid_after_utc == short_ca[0].not_valid_after_utc


def test_csr_with_bad_self_signature_is_refused(root_ca, device_key):
    der = bytearray(make_csr(device_key).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0xFF  # inside the signature
    with pytest.raises(ca.CAError, match="signature"):
        ca.issue_certificate(*root_ca, x509.load_der_x509_csr(bytes(der)))


def test_fingerprint_matches_openssl(openssl, write_pem, device_cert):
    out = openssl("x509", "-in", write_pem("c.pem", device_cert), "-noout", "-fingerprint", "-sha256").decode()
    assert ca.fingerprint_sha256(device_cert) == out.split("=", 1)[1].strip().replace(":", "").lower()


def test_load_pem_chain_keeps_order_and_refuses_garbage(root_ca, device_cert):
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (device_cert, root_ca[0]))
    assert ca.load_pem_chain(pem.decode()) == [device_cert, root_ca[0]]
    with pytest.raises(ca.CAError):
        ca.load_pem_chain("not a certificate")


@pytest.fixture(scope="module")
def ec_chain(open_root):
    """open root (RSA) -> intermediate (EC P-256) -> leaf issued by our CA code."""
    inter_key = ec.generate_private_key(ec.SECP256R1())
    intermediate = make_ca_cert(open_root, inter_key, "Intermediate")
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = ca.issue_certificate(intermediate, inter_key, make_csr(leaf_key, "leaf"))
    return leaf, intermediate, inter_key


def openssl_accepts(openssl, write_pem, cert, trusted, untrusted=(), partial=False, at=None) -> bool:
    args = ["verify", "-CAfile", write_pem("trusted.pem", b"".join(
        c.public_bytes(serialization.Encoding.PEM) for c in trusted))]
    if untrusted:
        args += ["-untrusted", write_pem("untrusted.pem", b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in untrusted))]
    if partial:
        args.append("-partial_chain")
    if at is not None:
        args += ["-attime", str(int(at.timestamp()))]
    return openssl(*args, write_pem("leaf.pem", cert), check=False) == b"\x00"


def accepts(cert, chain, at=None) -> bool:
    try:
        ca.verify_chain(cert, chain, at)
        return True
    except ca.CAError:
        return False


def test_chain_through_ec_intermediate_agrees_with_openssl(openssl, write_pem, open_root, ec_chain):
    leaf, intermediate, _ = ec_chain
    assert accepts(leaf, [intermediate, open_root[0]])
    assert openssl_accepts(openssl, write_pem, leaf, [open_root[0]], [intermediate])


def test_intermediate_under_a_pathlen_zero_root_is_refused(openssl, write_pem, root_ca, device_key):
    inter_key = ec.generate_private_key(ec.SECP256R1())
    intermediate = make_ca_cert(root_ca, inter_key, "Too Deep")
    leaf = ca.issue_certificate(intermediate, inter_key, make_csr(device_key))
    assert not accepts(leaf, [intermediate, root_ca[0]])
    assert not openssl_accepts(openssl, write_pem, leaf, [root_ca[0]], [intermediate])


def test_chain_may_stop_at_a_trusted_intermediate(openssl, write_pem, ec_chain):
    leaf, intermediate, _ = ec_chain
    assert accepts(leaf, [intermediate])
    assert openssl_accepts(openssl, write_pem, leaf, [intermediate], partial=True)


def test_missing_intermediate_is_refused(openssl, write_pem, open_root, ec_chain):
    leaf, _, _ = ec_chain
    assert not accepts(leaf, [open_root[0]])
    assert not openssl_accepts(openssl, write_pem, leaf, [open_root[0]])


def test_cert_from_another_ca_is_refused(openssl, write_pem, other_ca, device_cert):
    assert not accepts(device_cert, [other_ca[0]])
    assert not openssl_accepts(openssl, write_pem, device_cert, [other_ca[0]])


@pytest.mark.parametrize("days", [-2, 400])
def test_cert_outside_its_validity_is_refused(openssl, write_pem, root_ca, device_cert, days):
    at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days)
    assert not accepts(device_cert, [root_ca[0]], at)
    assert not openssl_accepts(openssl, write_pem, device_cert, [root_ca[0]], at=at)
    assert accepts(device_cert, [root_ca[0]], at.replace(tzinfo=None) - dt.timedelta(days=days))


def test_expired_issuer_is_refused(openssl, write_pem, open_root, ec_chain, device_key):
    leaf, intermediate, inter_key = ec_chain
    assert leaf.not_valid_after_utc == intermediate.not_valid_after_utc  # we cap to the issuer...
    # ...so outlive the intermediate with a hand-made leaf.
    later = intermediate.not_valid_after_utc + dt.timedelta(days=1)
    long_leaf = (x509.CertificateBuilder().subject_name(name("long")).issuer_name(intermediate.subject)
                 .public_key(device_key.public_key()).serial_number(1)
                 .not_valid_before(intermediate.not_valid_before_utc).not_valid_after(later + dt.timedelta(days=9))
                 .sign(inter_key, hashes.SHA256()))
    assert accepts(long_leaf, [intermediate, open_root[0]])
    assert not accepts(long_leaf, [intermediate, open_root[0]], later)
    assert not openssl_accepts(openssl, write_pem, long_leaf, [open_root[0]], [intermediate], at=later)


def test_leaf_signed_by_non_ca_key_is_refused(openssl, write_pem, root_ca, device_cert, device_key, second_key):
    fake = ca.issue_certificate(device_cert, device_key, make_csr(second_key))
    assert not accepts(fake, [device_cert, root_ca[0]])
    assert not openssl_accepts(openssl, write_pem, fake, [root_ca[0]], [device_cert])


def test_forged_issuer_name_with_wrong_key_is_refused(root_ca, other_ca, device_key):
    impostor_ca = (root_ca[0], other_ca[1])  # our CA's name, someone else's key
    fake = ca.issue_certificate(*impostor_ca, make_csr(device_key))
    assert not accepts(fake, [root_ca[0]])


def test_empty_chain_is_refused(device_cert):
    with pytest.raises(ca.CAError):
        ca.verify_chain(device_cert, [])
