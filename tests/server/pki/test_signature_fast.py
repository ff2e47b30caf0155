"""signature_fast: the cheap reading of an Mdm-Signature agrees with the full parser.

It may decline (None: the full parser decides) but never accepts what ``cms.verify_detached``
refuses, never names another certificate, and never raises.
"""
from __future__ import annotations

import base64
import random

import pytest
from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from espalier.pki import ca, cms, signature_fast
from espalier.sim.signing import mdm_signature

BODY = b'<?xml version="1.0"?>\n<plist><dict><key>MessageType</key><string>Idle</string></dict></plist>\n'
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"


def sign(openssl, write_pem, cert, key, *options: str) -> bytes:
    return openssl("cms", "-sign", "-binary", "-in", write_pem("body", BODY), "-signer", write_pem("cert", cert),
                   "-inkey", write_pem("key", key), "-outform", "DER", *options)


def full(der: bytes, body: bytes = BODY):
    try:
        return cms.verify_detached(der, body)
    except cms.CMSError:
        return None


@pytest.fixture(scope="module")
def ec_identity(root_ca):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, hashes.SHA256())
    return ca.issue_certificate(*root_ca, csr), key


@pytest.mark.parametrize("options", [
    ("-md", "sha1"), ("-md", "sha256"), ("-md", "sha512"), ("-keyid",), ("-nodetach",), ("-certfile", "CA"),
], ids=lambda o: " ".join(o))
def test_the_usual_shapes_are_read_and_name_the_same_certificate(openssl, write_pem, root_ca, device_cert,
                                                                 device_key, options):
    if options == ("-certfile", "CA"):  # the chain embedded too, the CA first
        options = ("-certfile", str(write_pem("ca.pem", root_ca[0])))
    der = sign(openssl, write_pem, device_cert, device_key, *options)
    assert signature_fast.verify(der, BODY) == device_cert == full(der)


def test_the_simulators_signature_and_ecdsa_are_read(openssl, write_pem, device_cert, device_key, ec_identity):
    der = base64.b64decode(mdm_signature(BODY, device_cert, device_key))
    assert signature_fast.verify(der, BODY) == device_cert
    cert, key = ec_identity
    assert signature_fast.verify(sign(openssl, write_pem, cert, key), BODY) == cert


@pytest.mark.parametrize("options", [("-noattr",), ("-keyopt", "rsa_padding_mode:pss"), ("-md", "sha224"),
                                     ("-nocerts",), ("-nodetach", "-stream")],
                         ids=lambda o: " ".join(o))
def test_other_shapes_are_left_to_the_full_parser(openssl, write_pem, device_cert, device_key, options):
    assert signature_fast.verify(sign(openssl, write_pem, device_cert, device_key, *options), BODY) is None


def test_a_tampered_body_digest_or_signer_is_declined(openssl, write_pem, device_cert, device_key, second_key,
                                                      resign, set_attribute):
    der = sign(openssl, write_pem, device_cert, device_key)
    assert signature_fast.verify(der, BODY + b" ") is None
    assert signature_fast.verify(resign(der, second_key), BODY) is None
    wrong_digest = resign(der, device_key, lambda s: set_attribute(s, MESSAGE_DIGEST, core.OctetString(b"\0" * 32)))
    assert signature_fast.verify(wrong_digest, BODY) is None
    assert signature_fast.verify(der + b"\0", BODY) is None  # trailing bytes


def test_random_damage_never_makes_it_accept_what_the_full_parser_refuses(openssl, write_pem, device_cert,
                                                                         device_key, root_ca):
    """Bit flips, byte changes, cuts and insertions anywhere in real signatures."""
    samples = [sign(openssl, write_pem, device_cert, device_key),
               sign(openssl, write_pem, device_cert, device_key, "-keyid", "-md", "sha1"),
               base64.b64decode(mdm_signature(BODY, device_cert, device_key))]
    rng = random.Random(18)
    accepted = declined = 0
    for i in range(3000):
        der = bytearray(samples[i % len(samples)])
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(der))
            kind = rng.random()
            if kind < 0.5:
                der[at] ^= 1 << rng.randrange(8)
            elif kind < 0.7:
                der[at] = rng.randrange(256)
            elif kind < 0.85:
                del der[at:at + rng.randint(1, 8)]
            else:
                der[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        cert = signature_fast.verify(bytes(der), BODY)
        if cert is None:
            declined += 1
            continue
        accepted += 1
        assert full(bytes(der)) == cert, f"case {i}: accepted what the full parser refuses"
    assert declined > 2500  # damage almost always breaks the signature; a few flips hit unsigned bytes
