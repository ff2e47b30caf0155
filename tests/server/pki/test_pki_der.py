"""The hand-written DER (``pki/der.py``) encodes as asn1crypto does, and what ``cms`` builds
with it is strict DER that asn1crypto reads back field by field."""

from __future__ import annotations

import pytest
from asn1crypto import algos, cms as asn1_cms, core

from espalier.pki import cms, der


@pytest.mark.parametrize("value", [0, 1, 127, 128, 255, 256, -1, -128, -129, 2**159 + 12345, 2**64 - 1])
def test_integer_encodes_as_asn1crypto(value):
    assert der.integer(value) == core.Integer(value).dump()


@pytest.mark.parametrize("dotted", ["1.2.840.113549.1.7.2", "2.16.840.1.101.3.4.2.1", "1.3.14.3.2.26",
                                    "2.16.840.1.113733.1.9.7", "2.999.1", "1.2.840.10045.4.3.2"])
def test_oid_encodes_as_asn1crypto(dotted):
    assert der.oid(dotted) == core.ObjectIdentifier(dotted).dump()


@pytest.mark.parametrize("size", [0, 1, 127, 128, 255, 256, 70_000])
def test_long_lengths_encode_as_asn1crypto(size):
    assert der.octet_string(b"x" * size) == core.OctetString(b"x" * size).dump()


def test_set_of_is_sorted_and_algorithms_carry_null_unless_omitted():
    parts = [core.PrintableString("b").dump(), core.OctetString(b"a" * 3).dump(), core.PrintableString("a").dump()]
    assert der.set_of(parts) == b"\x31" + bytes([sum(map(len, parts))]) + b"".join(sorted(parts))
    assert der.algorithm("2.16.840.1.101.3.4.2.1") == algos.DigestAlgorithm({"algorithm": "sha256"}).dump()
    assert der.algorithm("1.2.840.10045.4.3.2", None) == algos.SignedDigestAlgorithm(
        {"algorithm": "sha256_ecdsa"}).dump()


@pytest.mark.parametrize("content", [None, b"", b"payload" * 40])
def test_signed_attributes_read_back_strictly(root_ca, content):
    cert, key = root_ca
    der_bytes = cms.sign_with_attributes(content, cert, key, "sha256",
                                         [("2.16.840.1.113733.1.9.2", core.PrintableString("3"))])
    info = asn1_cms.ContentInfo.load(der_bytes, strict=True)
    signed = info["content"]
    assert info.dump(force=True) == der_bytes  # re-encoding changes nothing: it is DER
    signer = signed["signer_infos"][0]
    assert signer["sid"].chosen["serial_number"].native == cert.serial_number
    assert signer["sid"].chosen["issuer"].dump() == cert.issuer.public_bytes()
    assert signed["certificates"][0].chosen.dump() == cert.public_bytes(cms.serialization.Encoding.DER)
    assert cms.signed_attribute(signer, "2.16.840.1.113733.1.9.2").native == "3"
    assert cms.encapsulated_content(signed) == content
    assert cms.verify_signer(signed, content or b"") is not None


def test_envelope_reads_back_strictly(root_ca):
    cert, key = root_ca
    der_bytes = cms.encrypt_enveloped(b"secret", cert, "aes256")
    info = asn1_cms.ContentInfo.load(der_bytes, strict=True)
    assert info.dump(force=True) == der_bytes
    assert cms.open_enveloped(der_bytes, cert, key) == (b"secret", "aes256")
