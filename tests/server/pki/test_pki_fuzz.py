"""Hostile input: parsers may only return a result or raise their own typed error."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from espalier.pki import ca, cms, scep
from espalier.sim import scep_client
from espalier.sim.signing import mdm_signature

BODY = b"<plist><dict><key>MessageType</key><string>TokenUpdate</string></dict></plist>"
# Mutated certificates trip cryptography's deprecation warnings (e.g. negative serials).
pytestmark = pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def mutated(draw, original: bytes) -> bytes:
    """`original` with a few byte flips, truncations, insertions or deletions."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        where = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete"]))
        if action == "flip":
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif action == "set":
            data[where] = draw(st.sampled_from([0x00, 0x80, 0x81, 0x84, 0xFF, 0x30, 0x31, 0xA0]))
        elif action == "truncate":
            del data[where:]
        elif action == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=4))
        else:
            del data[where]
    return bytes(data)


@pytest.fixture(scope="module")
def request_der(root_ca, device_key) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz")])
    return scep_client.build_pkcs_req(root_ca[0], device_key, subject, "pw", "des3", "sha1")[0]


@pytest.fixture(scope="module")
def signature_der(device_cert, device_key) -> bytes:
    return base64.b64decode(mdm_signature(BODY, device_cert, device_key, "sha1"))


def _parse(der: bytes, root_ca) -> None:
    try:
        scep.parse_pki_message(der, *root_ca)
    except scep.SCEPError:
        pass


def _verify(der: bytes, body: bytes = BODY) -> None:
    try:
        cms.verify_detached(der, body)
    except cms.CMSError:
        pass


@FUZZ
@given(data=st.binary(max_size=600))
def test_random_bytes_never_escape_parse_pki_message(root_ca, data):
    _parse(data, root_ca)


@FUZZ
@given(data=st.data())
def test_mutated_request_never_escapes_parse_pki_message(root_ca, request_der, data):
    _parse(data.draw(mutated(request_der)), root_ca)


@FUZZ
@given(data=st.binary(max_size=600))
def test_random_bytes_never_escape_verify_detached(data):
    _verify(data)


@FUZZ
@given(data=st.data())
def test_mutated_signature_never_escapes_verify_detached(signature_der, device_cert, data):
    mutant = data.draw(mutated(signature_der))
    try:
        signer = cms.verify_detached(mutant, BODY)
    except cms.CMSError:
        return
    # Bytes of the embedded certificate may change unnoticed (verify_chain catches that),
    # but whatever verifies was signed by the device's key.
    assert signer.public_key() == device_cert.public_key()


@FUZZ
@given(data=st.data())
def test_mutated_envelope_never_escapes_decrypt_enveloped(device_cert, device_key, data):
    envelope = cms.encrypt_enveloped(b"secret", device_cert, data.draw(st.sampled_from(["aes128", "des3"])))
    try:
        cms.decrypt_enveloped(data.draw(mutated(envelope)), device_cert, device_key)
    except cms.CMSError:
        pass


@FUZZ
@given(value=st.text(max_size=200))
def test_any_text_never_escapes_decode_message_param(value):
    try:
        scep.decode_message_param(value)
    except scep.SCEPError:
        pass


@FUZZ
@given(data=st.data())
def test_mutated_cert_rep_never_escapes_the_device(root_ca, device_key, request_der, data):
    request = scep.parse_pki_message(request_der, *root_ca)
    reply = scep.cert_rep_failure(request, scep.FailInfo.BAD_REQUEST, *root_ca)
    try:
        scep_client.parse_cert_rep(data.draw(mutated(reply)), device_key, request.signer_cert, request.sender_nonce)
    except scep_client.SCEPClientError:
        pass


@FUZZ
@given(data=st.data())
def test_mutated_certificate_never_escapes_verify_chain(root_ca, device_cert, data):
    try:
        cert = x509.load_der_x509_certificate(data.draw(mutated(device_cert.public_bytes(serialization.Encoding.DER))))
    except (ValueError, x509.InvalidVersion):
        return
    try:
        ca.verify_chain(cert, [root_ca[0]])
    except ca.CAError:
        return
    assert cert.tbs_certificate_bytes == device_cert.tbs_certificate_bytes  # only a no-op mutation verifies


@FUZZ
@given(data=st.data())
def test_mutated_csr_never_escapes_issue_certificate(root_ca, device_key, data):
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz")])).add_extension(
        x509.SubjectAlternativeName([x509.DNSName("a.example")]), critical=False).sign(device_key, hashes.SHA256())
    try:
        mutant = x509.load_der_x509_csr(data.draw(mutated(csr.public_bytes(serialization.Encoding.DER))))
    except (ValueError, x509.InvalidVersion):
        return
    try:
        ca.issue_certificate(*root_ca, mutant)
    except ca.CAError:
        pass
