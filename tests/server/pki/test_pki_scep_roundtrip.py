"""SCEP between the simulated device (espalier.sim) and the server (espalier.pki)."""

from __future__ import annotations

import base64

import pytest
from asn1crypto import algos, core, keys
from asn1crypto import cms as asn1_cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from espalier.pki import ca, cms, scep
from espalier.sim import scep_client

SUBJECT = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Espalier"),
                     x509.NameAttribute(NameOID.COMMON_NAME, "device-1234")])


def envelope_cipher(cert_rep: bytes) -> str:
    content = asn1_cms.ContentInfo.load(cert_rep)["content"]["encap_content_info"]["content"].native
    algorithm = asn1_cms.ContentInfo.load(content)["content"]["encrypted_content_info"]["content_encryption_algorithm"]
    return algorithm["algorithm"].native


def rep_digest(cert_rep: bytes) -> str:
    return asn1_cms.ContentInfo.load(cert_rep)["content"]["signer_infos"][0]["digest_algorithm"]["algorithm"].native


@pytest.mark.parametrize("digest", ["sha1", "sha256"])
@pytest.mark.parametrize("cipher", ["aes128", "aes256", "des3", "des"])
def test_pkcs_req_enrolls_with_every_cipher_and_digest(root_ca, device_key, cipher, digest):
    ca_cert, ca_key = root_ca
    der, transaction_id, nonce, self_signed = scep_client.build_pkcs_req(
        ca_cert, device_key, SUBJECT, "one-time-secret", cipher, digest)
    request = scep.parse_pki_message(der, ca_cert, ca_key)
    assert request.fail_info is None
    assert request.message_type == scep.PKCS_REQ
    assert (request.transaction_id, request.sender_nonce) == (transaction_id, nonce)
    assert request.signer_cert == self_signed
    assert request.digest_algorithm == digest and request.envelope_cipher == cipher
    assert request.challenge == "one-time-secret"
    assert request.csr is not None and request.csr.subject == SUBJECT
    issued = ca.issue_certificate(ca_cert, ca_key, request.csr)
    reply = scep.cert_rep_success(request, issued, ca_cert, ca_key, request.reply_cipher)
    assert rep_digest(reply) == digest
    assert envelope_cipher(reply) == ("tripledes_3key" if cipher.startswith("des") else "aes256_cbc")
    got = scep_client.parse_cert_rep(reply, device_key, self_signed, nonce, ca_cert=ca_cert,
                                     transaction_id=transaction_id)
    assert got == issued
    ca.verify_chain(got, [ca_cert])


@pytest.mark.parametrize("cipher", ["aes128", "aes256", "des3"])
def test_reply_cipher_can_be_chosen(root_ca, device_key, cipher):
    der, _, nonce, self_signed = scep_client.build_pkcs_req(root_ca[0], device_key, SUBJECT, None)
    request = scep.parse_pki_message(der, *root_ca)
    issued = ca.issue_certificate(*root_ca, request.csr)
    reply = scep.cert_rep_success(request, issued, *root_ca, cipher=cipher)
    assert envelope_cipher(reply) == {"aes128": "aes128_cbc", "aes256": "aes256_cbc", "des3": "tripledes_3key"}[cipher]
    assert scep_client.parse_cert_rep(reply, device_key, self_signed, nonce) == issued


def test_success_reply_carries_the_issued_certificate_first(root_ca, device_key):
    """Clients that take the reply's first certificate as theirs (micromdm's scepclient, mdmb)
    must get the issued one, not the CA (RFC 8894; they fetch the CA with GetCACert)."""
    der, _, nonce, self_signed = scep_client.build_pkcs_req(root_ca[0], device_key, SUBJECT, None)
    request = scep.parse_pki_message(der, *root_ca)
    issued = ca.issue_certificate(*root_ca, request.csr)
    reply = scep.cert_rep_success(request, issued, *root_ca)
    envelope = asn1_cms.ContentInfo.load(reply)["content"]["encap_content_info"]["content"].native
    degenerate = cms.decrypt_enveloped(envelope, self_signed, device_key)
    assert pkcs7.load_der_pkcs7_certificates(degenerate) == [issued]
    first = asn1_cms.ContentInfo.load(degenerate)["content"]["certificates"][0].chosen
    assert first.dump() == issued.public_bytes(serialization.Encoding.DER)


def test_certs_only_keeps_the_given_order_when_asked(root_ca, device_key):
    issued = ca.issue_certificate(*root_ca, scep_client_csr(device_key))
    for order in ([issued, root_ca[0]], [root_ca[0], issued]):
        info = asn1_cms.ContentInfo.load(cms.certs_only(order, keep_order=True))
        got = [c.chosen.dump() for c in info["content"]["certificates"]]
        assert got == [c.public_bytes(serialization.Encoding.DER) for c in order]
        assert info["content"]["signer_infos"].native == [] and info["content"]["version"].native == "v1"


@pytest.mark.parametrize("digest", ["sha1", "sha256"])
@pytest.mark.parametrize("fail_info", list(scep.FailInfo))
def test_failure_reply_reaches_the_device(root_ca, device_key, digest, fail_info):
    der, transaction_id, nonce, self_signed = scep_client.build_pkcs_req(
        root_ca[0], device_key, SUBJECT, "wrong", digest=digest)
    request = scep.parse_pki_message(der, *root_ca)
    reply = scep.cert_rep_failure(request, fail_info, *root_ca)
    assert rep_digest(reply) == digest
    with pytest.raises(scep_client.SCEPFailure) as failure:
        scep_client.parse_cert_rep(reply, device_key, self_signed, nonce, ca_cert=root_ca[0],
                                   transaction_id=transaction_id)
    assert failure.value.fail_info == fail_info


def test_unknown_fail_info_is_a_programming_error(root_ca, device_key):
    der, *_ = scep_client.build_pkcs_req(root_ca[0], device_key, SUBJECT, None)
    with pytest.raises(ValueError):
        scep.cert_rep_failure(scep.parse_pki_message(der, *root_ca), 9, *root_ca)


@pytest.mark.parametrize("digest", ["sha1", "sha256"])
@pytest.mark.parametrize("cipher", ["aes256", "des3"])
def test_renewal_req_is_signed_by_the_old_certificate(root_ca, device_key, device_cert, second_key, cipher, digest):
    der, transaction_id, nonce, reply_to = scep_client.build_pkcs_req(
        root_ca[0], second_key, SUBJECT, None, cipher, digest, renewal_cert=device_cert, renewal_key=device_key)
    request = scep.parse_pki_message(der, *root_ca)
    assert request.fail_info is None and request.message_type == scep.RENEWAL_REQ
    assert request.signer_cert == device_cert == reply_to
    assert request.challenge is None
    assert request.csr.public_key() == second_key.public_key()
    ca.verify_chain(request.signer_cert, [root_ca[0]])  # the caller's check before renewing
    issued = ca.issue_certificate(*root_ca, request.csr)
    reply = scep.cert_rep_success(request, issued, *root_ca, request.reply_cipher)
    assert scep_client.parse_cert_rep(reply, device_key, reply_to, nonce, issued_key=second_key) == issued


def test_renewal_with_a_foreign_certificate_fails_the_chain_check(root_ca, other_ca, second_key, device_key):
    csr = x509.CertificateSigningRequestBuilder().subject_name(SUBJECT).sign(device_key, hashes.SHA256())
    foreign = ca.issue_certificate(*other_ca, csr)
    der, *_ = scep_client.build_pkcs_req(root_ca[0], second_key, SUBJECT, None,
                                          renewal_cert=foreign, renewal_key=device_key)
    request = scep.parse_pki_message(der, *root_ca)
    assert request.fail_info is None  # authentic message...
    with pytest.raises(ca.CAError):  # ...from a certificate we never issued
        ca.verify_chain(request.signer_cert, [root_ca[0]])


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    length = bytes([size]) if size < 0x80 else bytes([0x80 | 2]) + size.to_bytes(2, "big")
    return bytes([tag]) + length + content


def csr_with_challenge(key: rsa.RSAPrivateKey, value: core.Asn1Value) -> x509.CertificateSigningRequest:
    """A CSR whose challengePassword has the string type of `value` (built by hand: no library offers all)."""
    spki = keys.PublicKeyInfo.load(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    attribute = _tlv(0x30, core.ObjectIdentifier("1.2.840.113549.1.9.7").dump() + _tlv(0x31, value.dump()))
    info = _tlv(0x30, core.Integer(0).dump() + asn1_x509.Name.build({"common_name": "dev"}).dump()
                + spki.dump() + _tlv(0xA0, attribute))
    signature = key.sign(info, padding.PKCS1v15(), hashes.SHA256())
    algorithm = algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}).dump()
    return x509.load_der_x509_csr(_tlv(0x30, info + algorithm + _tlv(0x03, b"\x00" + signature)))


@pytest.mark.parametrize("value, expected", [
    (core.PrintableString("Secret 123"), "Secret 123"),
    (core.UTF8String("sécret ✓"), "sécret ✓"),
    (core.IA5String("secret@example"), "secret@example"),
    (core.BMPString("sëcret"), "sëcret"),
    (core.TeletexString("secret"), "secret"),
], ids=["printable", "utf8", "ia5", "bmp", "teletex"])
def test_challenge_password_is_read_in_any_string_type(root_ca, device_key, value, expected):
    csr = csr_with_challenge(device_key, value)
    assert csr.is_signature_valid
    der, *_ = scep_client.build_pkcs_req(root_ca[0], device_key, SUBJECT, None, csr=csr)
    request = scep.parse_pki_message(der, *root_ca)
    assert request.fail_info is None and request.challenge == expected


def test_challenge_that_is_not_a_string_is_ignored(root_ca, device_key):
    der, *_ = scep_client.build_pkcs_req(root_ca[0], device_key, SUBJECT, None,
                                          csr=csr_with_challenge(device_key, core.Integer(7)))
    request = scep.parse_pki_message(der, *root_ca)
    assert request.fail_info is None and request.challenge is None


def test_ca_caps_are_plain_lines():
    body, content_type = scep.get_ca_caps()
    assert content_type == "text/plain"
    assert body.decode().split("\n") == list(scep.CA_CAPS)
    assert {"POSTPKIOperation", "SCEPStandard", "AES", "DES3", "SHA-256", "SHA-1", "Renewal"} <= set(scep.CA_CAPS)


def test_ca_cert_alone_is_plain_der(root_ca):
    body, content_type = scep.get_ca_cert(root_ca[0])
    assert content_type == "application/x-x509-ca-cert"
    assert x509.load_der_x509_certificate(body) == root_ca[0]


def test_ca_cert_with_ra_is_a_degenerate_pkcs7(root_ca, device_cert):
    body, content_type = scep.get_ca_cert(root_ca[0], [device_cert])
    assert content_type == "application/x-x509-ca-ra-cert"
    certs = pkcs7.load_der_pkcs7_certificates(body)
    assert sorted(certs, key=ca.fingerprint_sha256) == sorted([root_ca[0], device_cert], key=ca.fingerprint_sha256)


@pytest.fixture(scope="module")
def pki_message(root_ca, device_key) -> bytes:
    return scep_client.build_pkcs_req(root_ca[0], device_key, SUBJECT, "pw")[0]


@pytest.mark.parametrize("encode", [
    lambda d: base64.b64encode(d).decode(),
    lambda d: base64.urlsafe_b64encode(d).decode(),
    lambda d: base64.urlsafe_b64encode(d).decode().rstrip("="),
    lambda d: base64.b64encode(d).decode().rstrip("="),
    lambda d: base64.b64encode(d).decode().replace("+", " "),  # '+' decoded as space by the web layer
    lambda d: base64.encodebytes(d).decode(),  # MIME line breaks
], ids=["standard", "urlsafe", "urlsafe-unpadded", "standard-unpadded", "plus-as-space", "line-breaks"])
def test_get_message_parameter_decodes_every_base64_flavour(root_ca, pki_message, encode):
    decoded = scep.decode_message_param(encode(pki_message))
    assert decoded == pki_message
    assert scep.parse_pki_message(decoded, *root_ca).challenge == "pw"


@pytest.mark.parametrize("value", ["", "a", "====", "not base64!", "abc$def", "ümlaut", "A" * 5])
def test_garbage_message_parameter_is_an_scep_error(value):
    with pytest.raises(scep.SCEPError):
        scep.decode_message_param(value)


def scep_client_csr(key):
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509 import CertificateSigningRequestBuilder

    return CertificateSigningRequestBuilder().subject_name(SUBJECT).sign(key, hashes.SHA256())
