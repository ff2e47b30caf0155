"""verify_detached against openssl-made signatures and tampered ones; sign_attached, certs_only."""

from __future__ import annotations

import base64

import pytest
from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7

from espalier.pki import ca, cms
from espalier.sim.signing import mdm_signature

BODY = b'<?xml version="1.0"?>\n<plist><dict><key>MessageType</key>\x00\xff</dict></plist>\n'
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"


@pytest.fixture()
def files(write_pem, device_cert, device_key):
    return {"cert": write_pem("device.pem", device_cert), "key": write_pem("device.key", device_key),
            "body": write_pem("body.bin", BODY)}


def openssl_sign(openssl, files, *extra: str) -> bytes:
    return openssl("cms", "-sign", "-binary", "-in", files["body"], "-signer", files["cert"],
                   "-inkey", files["key"], "-outform", "DER", *extra)


@pytest.mark.parametrize("options", [
    ("-md", "sha1"), ("-md", "sha256"), ("-md", "sha384"), ("-md", "sha512"),
    ("-md", "sha1", "-nodetach"), ("-md", "sha256", "-nodetach", "-stream"),
    ("-noattr",), ("-keyid",), ("-keyopt", "rsa_padding_mode:pss"),
    ("-keyopt", "rsa_padding_mode:pss", "-md", "sha1"),
], ids=lambda o: " ".join(o))
def test_openssl_signature_verifies_and_names_the_device(openssl, files, device_cert, options):
    signature = openssl_sign(openssl, files, *options)
    assert cms.verify_detached(signature, BODY) == device_cert


def test_ecdsa_signature_verifies(openssl, write_pem, root_ca):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, hashes.SHA256())
    cert = ca.issue_certificate(*root_ca, csr)
    signature = openssl("cms", "-sign", "-binary", "-in", write_pem("b", BODY), "-signer", write_pem("c", cert),
                        "-inkey", write_pem("k", key), "-outform", "DER", "-md", "sha1")
    assert cms.verify_detached(signature, BODY) == cert


@pytest.mark.parametrize("options", [("-md", "sha1"), ("-noattr",)], ids=["attrs", "noattr"])
def test_flipped_body_byte_is_refused(openssl, files, options):
    signature = openssl_sign(openssl, files, *options)
    tampered = bytearray(BODY)
    tampered[10] ^= 0x01
    with pytest.raises(cms.CMSError):
        cms.verify_detached(signature, bytes(tampered))


def test_attached_content_that_differs_from_body_is_refused(openssl, files):
    signature = openssl_sign(openssl, files, "-nodetach")
    with pytest.raises(cms.CMSError, match="differs"):
        cms.verify_detached(signature, BODY + b" ")


def test_wrong_message_digest_is_refused_even_if_signed(openssl, files, device_key, resign, set_attribute):
    signature = resign(openssl_sign(openssl, files), device_key,
                       lambda s: set_attribute(s, MESSAGE_DIGEST, core.OctetString(b"\x00" * 32)))
    with pytest.raises(cms.CMSError, match="messageDigest"):
        cms.verify_detached(signature, BODY)


def test_resigning_helper_keeps_a_valid_signature(openssl, files, device_key, resign, device_cert):
    assert cms.verify_detached(resign(openssl_sign(openssl, files), device_key), BODY) == device_cert


def test_signature_by_another_key_is_refused(openssl, files, second_key, resign):
    with pytest.raises(cms.CMSError, match="bad signature"):
        cms.verify_detached(resign(openssl_sign(openssl, files), second_key), BODY)


def test_signature_without_signer_certificate_is_refused(openssl, files):
    with pytest.raises(cms.CMSError, match="signer certificate"):
        cms.verify_detached(openssl_sign(openssl, files, "-nocerts"), BODY)


def test_unsupported_digest_is_an_algorithm_error(openssl, files):
    with pytest.raises(cms.CMSAlgorithmError):
        cms.verify_detached(openssl_sign(openssl, files, "-md", "sha224"), BODY)


@pytest.mark.parametrize("data", [b"", b"\x30", b"garbage", b"\x30\x03\x06\x01\x00"])
def test_garbage_is_a_cms_error(data):
    with pytest.raises(cms.CMSError):
        cms.verify_detached(data, BODY)


def test_truncated_signature_is_a_cms_error(openssl, files):
    signature = openssl_sign(openssl, files)
    for cut in range(1, len(signature), 97):
        with pytest.raises(cms.CMSError):
            cms.verify_detached(signature[:cut], BODY)


def test_enveloped_data_is_not_a_signature(device_cert):
    with pytest.raises(cms.CMSError, match="not signed_data"):
        cms.verify_detached(cms.encrypt_enveloped(BODY, device_cert), BODY)


@pytest.mark.parametrize("digest", ["sha1", "sha256"])
def test_sim_mdm_signature_verifies_with_openssl_and_server(openssl, files, device_cert, device_key, digest,
                                                           write_pem):
    signature = base64.b64decode(mdm_signature(BODY, device_cert, device_key, digest))
    openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", write_pem("sig.der", signature),
            "-content", files["body"], "-noverify", "-out", "/dev/null")
    assert cms.verify_detached(signature, BODY) == device_cert


def test_signed_profile_verifies_with_openssl_and_keeps_chain(openssl, write_pem, root_ca, device_cert,
                                                              device_key):
    signed = cms.sign_attached(BODY, device_cert, device_key, chain=[root_ca[0]])
    content = openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", write_pem("p.der", signed),
                      "-CAfile", write_pem("ca.pem", root_ca[0]), "-purpose", "any")
    assert content == BODY
    assert cms.verify_detached(signed, BODY) == device_cert


def test_certs_only_lists_certificates_for_openssl(openssl, write_pem, root_ca, device_cert):
    der = cms.certs_only([device_cert, root_ca[0]])
    text = openssl("pkcs7", "-inform", "DER", "-in", write_pem("c.p7", der), "-print_certs").decode()
    assert "subject=CN = device" in text and "subject=CN = Espalier Test CA" in text
    assert set(pkcs7.load_der_pkcs7_certificates(der)) == {device_cert, root_ca[0]}


def test_certs_only_needs_a_certificate():
    with pytest.raises(cms.CMSError):
        cms.certs_only([])

