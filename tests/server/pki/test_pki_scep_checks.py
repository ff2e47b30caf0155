"""SCEP messages checked by openssl, and broken or forged requests mapped to failInfo or SCEPError."""

from __future__ import annotations

from datetime import datetime, timezone

import hashlib

import pytest
from asn1crypto import cms as asn1_cms
from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from espalier.pki import ca, cms, scep
from espalier.sim import scep_client
from espalier.sim.signing import signed_data

SUBJECT = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "device-5678")])
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"


@pytest.fixture(scope="module")
def enrollment(root_ca, device_key):
    """A PKCSReq from the simulator: (der, transaction id, nonce, self-signed cert)."""
    return scep_client.build_pkcs_req(root_ca[0], device_key, SUBJECT, "pw", "aes256", "sha256")


def wrap(envelope: bytes, cert, key, message_type: str = "19", digest: str = "sha256",
         transaction_id: core.Asn1Value = core.PrintableString("T-1")) -> bytes:
    """A PKIMessage around any envelope, signed by (cert, key)."""
    return signed_data(envelope, cert, key, digest, [
        (scep.MESSAGE_TYPE, core.PrintableString(message_type)),
        (scep.TRANSACTION_ID, transaction_id),
        (scep.SENDER_NONCE, core.OctetString(b"\x01" * 16)),
    ])


# ---- independent checks with the openssl command line -----------------------------------


@pytest.mark.parametrize("cipher, provider", [("aes128", ()), ("des3", ()),
                                              ("des", ("-provider", "legacy", "-provider", "default"))])
def test_sim_request_is_valid_cms_for_openssl(openssl, write_pem, root_ca, device_key, cipher, provider):
    der, _, _, self_signed = scep_client.build_pkcs_req(root_ca[0], device_key, SUBJECT, "pw", cipher, "sha1")
    envelope = openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", write_pem("req.der", der),
                       "-noverify")
    csr_der = openssl("cms", "-decrypt", "-binary", "-inform", "DER", "-in", write_pem("env.der", envelope),
                      "-recip", write_pem("ca.pem", root_ca[0]), "-inkey", write_pem("ca.key", root_ca[1]), *provider)
    text = openssl("req", "-inform", "DER", "-in", write_pem("csr.der", csr_der), "-verify", "-noout", "-text")
    assert b"device-5678" in text and b"challengePassword" in text


@pytest.mark.parametrize("cipher", ["aes256", "des3"])
def test_cert_rep_success_verifies_and_decrypts_with_openssl(openssl, write_pem, root_ca, device_key, enrollment,
                                                             cipher):
    request = scep.parse_pki_message(enrollment[0], *root_ca)
    issued = ca.issue_certificate(*root_ca, request.csr)
    reply = scep.cert_rep_success(request, issued, *root_ca, cipher=cipher)
    envelope = openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", write_pem("rep.der", reply),
                       "-CAfile", write_pem("ca.pem", root_ca[0]), "-purpose", "any")
    degenerate = openssl("cms", "-decrypt", "-binary", "-inform", "DER", "-in", write_pem("env.der", envelope),
                         "-recip", write_pem("ss.pem", enrollment[3]), "-inkey", write_pem("dev.key", device_key))
    certs = openssl("pkcs7", "-inform", "DER", "-in", write_pem("p7.der", degenerate), "-print_certs").decode()
    assert "subject=CN = device-5678" in certs and "Espalier Test CA" in certs


def test_cert_rep_failure_verifies_with_openssl_over_empty_content(openssl, write_pem, root_ca, enrollment):
    request = scep.parse_pki_message(enrollment[0], *root_ca)
    reply = scep.cert_rep_failure(request, scep.FailInfo.BAD_REQUEST, *root_ca)
    openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", write_pem("rep.der", reply),
            "-content", write_pem("empty", b""), "-CAfile", write_pem("ca.pem", root_ca[0]), "-purpose", "any",
            "-out", "/dev/null")
    attrs = asn1_cms.ContentInfo.load(reply)["content"]["signer_infos"][0]["signed_attrs"]
    values = {a["type"].dotted: core.load(a["values"][0].dump()) for a in attrs}
    assert values[scep.PKI_STATUS] == core.PrintableString("2")
    assert values[scep.FAIL_INFO] == core.PrintableString("2")
    assert values[scep.MESSAGE_TYPE] == core.PrintableString("3")
    assert values[scep.TRANSACTION_ID].native == enrollment[1]
    assert values[scep.RECIPIENT_NONCE].native == enrollment[2]
    assert len(values[scep.SENDER_NONCE].native) == 16 and values[scep.SENDER_NONCE].native != enrollment[2]


def test_openssl_enveloped_csr_in_sim_signed_message_is_accepted(openssl, write_pem, root_ca, device_key, enrollment):
    csr = x509.CertificateSigningRequestBuilder().subject_name(SUBJECT).sign(device_key, hashes.SHA256())
    envelope = openssl("cms", "-encrypt", "-binary", "-des3", "-outform", "DER",
                       "-in", write_pem("csr.der", csr.public_bytes(serialization.Encoding.DER)),
                       write_pem("ca.pem", root_ca[0]))
    request = scep.parse_pki_message(wrap(envelope, enrollment[3], device_key, digest="sha1"), *root_ca)
    assert request.fail_info is None and request.csr == csr and request.envelope_cipher == "des3"
    assert request.reply_cipher == "des3"


@pytest.mark.parametrize("transaction_id", [core.UTF8String("tränsaction_1"), core.IA5String("id_with@signs")])
def test_transaction_id_outside_printable_string_is_echoed(root_ca, device_key, enrollment, transaction_id):
    csr = x509.CertificateSigningRequestBuilder().subject_name(SUBJECT).sign(device_key, hashes.SHA256())
    envelope = cms.encrypt_enveloped(csr.public_bytes(serialization.Encoding.DER), root_ca[0])
    request = scep.parse_pki_message(wrap(envelope, enrollment[3], device_key, transaction_id=transaction_id),
                                     *root_ca)
    assert request.transaction_id == transaction_id.native
    reply = scep.cert_rep_success(request, ca.issue_certificate(*root_ca, request.csr), *root_ca)
    issued = scep_client.parse_cert_rep(reply, device_key, enrollment[3], b"\x01" * 16,
                                        transaction_id=transaction_id.native)
    assert issued.public_key() == device_key.public_key()


# ---- requests answered with a failInfo -------------------------------------------------


def test_signature_by_another_key_is_bad_message_check(root_ca, second_key, enrollment, resign):
    request = scep.parse_pki_message(resign(enrollment[0], second_key), *root_ca)
    assert request.fail_info == scep.FailInfo.BAD_MESSAGE_CHECK
    assert request.transaction_id == enrollment[1] and request.csr is None


def test_wrong_message_digest_is_bad_message_check(root_ca, device_key, enrollment, resign, set_attribute):
    forged = resign(enrollment[0], device_key,
                    lambda s: set_attribute(s, MESSAGE_DIGEST, core.OctetString(hashlib.sha256(b"x").digest())))
    assert scep.parse_pki_message(forged, *root_ca).fail_info == scep.FailInfo.BAD_MESSAGE_CHECK


def test_untouched_resigned_request_still_passes(root_ca, device_key, enrollment, resign):
    assert scep.parse_pki_message(resign(enrollment[0], device_key), *root_ca).fail_info is None


def test_unsupported_digest_is_bad_alg_and_failure_is_still_signed(root_ca, device_key, enrollment, resign):
    request = scep.parse_pki_message(resign(enrollment[0], device_key, digest="md5"), *root_ca)
    assert request.fail_info == scep.FailInfo.BAD_ALG and request.digest_algorithm == "md5"
    reply = scep.cert_rep_failure(request, request.fail_info, *root_ca)
    with pytest.raises(scep_client.SCEPFailure) as failure:
        scep_client.parse_cert_rep(reply, device_key, enrollment[3], enrollment[2], ca_cert=root_ca[0])
    assert failure.value.fail_info == scep.FailInfo.BAD_ALG


def test_unsupported_envelope_cipher_is_bad_alg(openssl, write_pem, root_ca, device_key, enrollment):
    envelope = openssl("cms", "-encrypt", "-binary", "-camellia128", "-outform", "DER",
                       "-in", write_pem("x", b"csr"), write_pem("ca.pem", root_ca[0]))
    request = scep.parse_pki_message(wrap(envelope, enrollment[3], device_key), *root_ca)
    assert request.fail_info == scep.FailInfo.BAD_ALG


def test_envelope_for_another_ca_is_bad_request(root_ca, other_ca, device_key):
    der, *_ = scep_client.build_pkcs_req(other_ca[0], device_key, SUBJECT, "pw")
    assert scep.parse_pki_message(der, *root_ca).fail_info == scep.FailInfo.BAD_REQUEST


def test_envelope_holding_no_csr_is_bad_request(root_ca, device_key, enrollment):
    envelope = cms.encrypt_enveloped(b"not a CSR", root_ca[0])
    request = scep.parse_pki_message(wrap(envelope, enrollment[3], device_key), *root_ca)
    assert request.fail_info == scep.FailInfo.BAD_REQUEST and request.csr is None


def test_csr_with_bad_signature_is_bad_message_check(root_ca, device_key):
    der = bytearray(x509.CertificateSigningRequestBuilder().subject_name(SUBJECT)
                    .sign(device_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0x40
    message, *_ = scep_client.build_pkcs_req(root_ca[0], device_key, SUBJECT, None,
                                              csr=x509.load_der_x509_csr(bytes(der)))
    assert scep.parse_pki_message(message, *root_ca).fail_info == scep.FailInfo.BAD_MESSAGE_CHECK


@pytest.mark.parametrize("message_type", ["20", "21", "22", "99"])
def test_message_types_we_do_not_serve_are_bad_request(root_ca, device_key, enrollment, message_type):
    envelope = cms.encrypt_enveloped(b"irrelevant", root_ca[0])
    request = scep.parse_pki_message(wrap(envelope, enrollment[3], device_key, message_type), *root_ca)
    assert request.message_type == int(message_type) and request.fail_info == scep.FailInfo.BAD_REQUEST


def test_requester_with_ec_key_cannot_receive_a_reply(root_ca, device_key):
    ec_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    ec_cert = (x509.CertificateBuilder().subject_name(SUBJECT).issuer_name(SUBJECT).public_key(ec_key.public_key())
               .serial_number(5).not_valid_before(now).not_valid_after(now + ca.CLOCK_SKEW)
               .sign(ec_key, hashes.SHA256()))
    csr = x509.CertificateSigningRequestBuilder().subject_name(SUBJECT).sign(device_key, hashes.SHA256())
    envelope = cms.encrypt_enveloped(csr.public_bytes(serialization.Encoding.DER), root_ca[0])
    assert scep.parse_pki_message(wrap(envelope, ec_cert, ec_key), *root_ca).fail_info == scep.FailInfo.BAD_ALG


# ---- requests too broken to answer -------------------------------------------------------


@pytest.mark.parametrize("oid", [scep.MESSAGE_TYPE, scep.TRANSACTION_ID, scep.SENDER_NONCE])
def test_missing_scep_attribute_is_an_scep_error(root_ca, device_key, enrollment, resign, set_attribute, oid):
    with pytest.raises(scep.SCEPError, match="attribute"):
        scep.parse_pki_message(resign(enrollment[0], device_key, lambda s: set_attribute(s, oid, None)), *root_ca)


@pytest.mark.parametrize("oid, value", [
    (scep.MESSAGE_TYPE, core.PrintableString("PKCSReq")),
    (scep.MESSAGE_TYPE, core.OctetString(b"19")),
    (scep.SENDER_NONCE, core.PrintableString("nonce")),
    (scep.SENDER_NONCE, core.OctetString(b"")),
    (scep.TRANSACTION_ID, core.Integer(5)),
], ids=["type-word", "type-octets", "nonce-string", "nonce-empty", "tid-integer"])
def test_malformed_scep_attribute_is_an_scep_error(root_ca, device_key, enrollment, resign, set_attribute, oid, value):
    with pytest.raises(scep.SCEPError):
        scep.parse_pki_message(resign(enrollment[0], device_key, lambda s: set_attribute(s, oid, value)), *root_ca)


def test_request_without_signer_certificate_is_an_scep_error(root_ca, enrollment):
    info = asn1_cms.ContentInfo.load(enrollment[0])
    info["content"]["certificates"] = []
    with pytest.raises(scep.SCEPError, match="signer certificate"):
        scep.parse_pki_message(info.dump(force=True), *root_ca)


@pytest.mark.parametrize("data", [b"", b"\x00", b"GET / HTTP/1.1", b"\x30\x80\x00\x00"])
def test_garbage_is_an_scep_error(root_ca, data):
    with pytest.raises(scep.SCEPError):
        scep.parse_pki_message(data, *root_ca)


def test_enveloped_data_alone_is_an_scep_error(root_ca):
    with pytest.raises(scep.SCEPError):
        scep.parse_pki_message(cms.encrypt_enveloped(b"x", root_ca[0]), *root_ca)


# ---- the simulated device refuses bad replies ----------------------------------------------


@pytest.fixture(scope="module")
def reply(root_ca, enrollment):
    request = scep.parse_pki_message(enrollment[0], *root_ca)
    return scep.cert_rep_success(request, ca.issue_certificate(*root_ca, request.csr), *root_ca)


def test_device_refuses_reply_for_another_nonce(device_key, enrollment, reply):
    with pytest.raises(scep_client.SCEPClientError, match="nonce"):
        scep_client.parse_cert_rep(reply, device_key, enrollment[3], b"\x00" * 16)


def test_device_refuses_reply_for_another_transaction(device_key, enrollment, reply):
    with pytest.raises(scep_client.SCEPClientError, match="transactionID"):
        scep_client.parse_cert_rep(reply, device_key, enrollment[3], enrollment[2], transaction_id="other")


def test_device_refuses_reply_signed_by_another_ca(device_key, other_ca, enrollment, reply):
    with pytest.raises(scep_client.SCEPClientError, match="expected CA"):
        scep_client.parse_cert_rep(reply, device_key, enrollment[3], enrollment[2], ca_cert=other_ca[0])


def test_device_refuses_reply_with_forged_signature(root_ca, other_ca, device_key, enrollment, reply, resign):
    with pytest.raises(scep_client.SCEPClientError, match="signature"):
        scep_client.parse_cert_rep(resign(reply, other_ca[1]), device_key, enrollment[3], enrollment[2])


def test_device_refuses_reply_with_tampered_content(device_key, enrollment, reply):
    info = asn1_cms.ContentInfo.load(reply)
    content = bytearray(info["content"]["encap_content_info"]["content"].native)
    content[-1] ^= 0x01
    info["content"]["encap_content_info"] = {"content_type": "data", "content": bytes(content)}
    with pytest.raises(scep_client.SCEPClientError, match="messageDigest"):
        scep_client.parse_cert_rep(info.dump(force=True), device_key, enrollment[3], enrollment[2])
