"""decrypt_enveloped against openssl envelopes; encrypt_enveloped checked by openssl."""

from __future__ import annotations

import pytest
from asn1crypto import cms as asn1_cms

from espalier.pki import cms

SECRET = b"ABCD-EFGH-IJKL-MNOP-QRST-UVWX\n" * 3


@pytest.fixture()
def recipient(write_pem, device_cert, device_key):
    return {"cert": write_pem("r.pem", device_cert), "key": write_pem("r.key", device_key),
            "in": write_pem("secret.txt", SECRET)}


def openssl_encrypt(openssl, recipient, *options: str) -> bytes:
    return openssl("cms", "-encrypt", "-binary", "-in", recipient["in"], "-outform", "DER", *options,
                   "-recip", recipient["cert"])


@pytest.mark.parametrize("options, cipher", [
    (("-aes128",), "aes128"), (("-aes192",), "aes192"), (("-aes256",), "aes256"), (("-des3",), "des3"),
    (("-des3", "-stream"), "des3"), (("-aes256", "-keyid"), "aes256"),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else v)
def test_openssl_envelope_decrypts(openssl, recipient, device_cert, device_key, options, cipher):
    der = openssl_encrypt(openssl, recipient, *options)
    assert cms.open_enveloped(der, device_cert, device_key) == (SECRET, cipher)
    assert cms.decrypt_enveloped(der, device_cert, device_key) == SECRET


def test_single_des_envelope_decrypts(openssl, recipient, device_cert, device_key):
    # OpenSSL 3 keeps DES in the legacy provider.
    der = openssl_encrypt(openssl, recipient, "-des", "-provider", "legacy", "-provider", "default")
    assert cms.open_enveloped(der, device_cert, device_key) == (SECRET, "des")


@pytest.mark.parametrize("md", ["sha1", "sha256"])
def test_rsa_oaep_key_transport_decrypts(openssl, recipient, device_cert, device_key, md):
    der = openssl("cms", "-encrypt", "-binary", "-in", recipient["in"], "-outform", "DER", "-aes128",
                  "-recip", recipient["cert"], "-keyopt", "rsa_padding_mode:oaep", "-keyopt", f"rsa_oaep_md:{md}")
    assert cms.decrypt_enveloped(der, device_cert, device_key) == SECRET


@pytest.mark.parametrize("cipher", ["aes128", "aes256", "des3"])
def test_our_envelope_decrypts_with_openssl(openssl, write_pem, recipient, device_cert, device_key, cipher):
    der = cms.encrypt_enveloped(SECRET, device_cert, cipher)
    plain = openssl("cms", "-decrypt", "-binary", "-inform", "DER", "-in", write_pem("e.der", der),
                    "-recip", recipient["cert"], "-inkey", recipient["key"])
    assert plain == SECRET
    assert cms.open_enveloped(der, device_cert, device_key) == (SECRET, cipher)


@pytest.mark.parametrize("size", [0, 1, 7, 8, 15, 16, 17])
def test_padding_round_trips_at_block_boundaries(device_cert, device_key, size):
    for cipher in ("aes128", "des3"):
        der = cms.encrypt_enveloped(b"x" * size, device_cert, cipher)
        assert cms.decrypt_enveloped(der, device_cert, device_key) == b"x" * size


def test_envelope_for_someone_else_is_refused(root_ca, device_key, device_cert):
    der = cms.encrypt_enveloped(SECRET, root_ca[0])
    with pytest.raises(cms.CMSError, match="no recipientInfo"):
        cms.decrypt_enveloped(der, device_cert, device_key)


def test_wrong_private_key_fails_without_detail(device_cert, second_key):
    der = cms.encrypt_enveloped(SECRET, device_cert)
    with pytest.raises(cms.CMSError, match="^decryption failed$"):
        cms.decrypt_enveloped(der, device_cert, second_key)


def _with_ciphertext(der: bytes, change) -> bytes:
    info = asn1_cms.ContentInfo.load(der)
    encrypted = info["content"]["encrypted_content_info"]
    encrypted["encrypted_content"] = change(encrypted["encrypted_content"].native)
    return info.dump(force=True)


@pytest.mark.parametrize("change", [
    lambda c: c[:-1],                                   # not a whole number of blocks
    lambda c: c[:-16],                                  # padding block gone
    lambda c: c[:-17] + bytes([c[-17] ^ 0x01]) + c[-16:],  # last padding byte corrupted
    lambda c: b"",
], ids=["partial-block", "dropped-block", "bad-padding", "empty"])
def test_corrupted_ciphertext_fails_without_detail(device_cert, device_key, change):
    der = _with_ciphertext(cms.encrypt_enveloped(b"y" * 32, device_cert, "aes128"), change)
    with pytest.raises(cms.CMSError, match="^decryption failed$"):
        cms.decrypt_enveloped(der, device_cert, device_key)


def test_unknown_content_cipher_is_an_algorithm_error(openssl, recipient, device_cert, device_key):
    der = openssl_encrypt(openssl, recipient, "-camellia128")
    with pytest.raises(cms.CMSAlgorithmError):
        cms.decrypt_enveloped(der, device_cert, device_key)


def test_unsupported_cipher_name_is_refused(device_cert):
    with pytest.raises(cms.CMSAlgorithmError):
        cms.encrypt_enveloped(SECRET, device_cert, "rc4")


def test_signed_data_is_not_an_envelope(device_cert, device_key):
    with pytest.raises(cms.CMSError, match="not enveloped_data"):
        cms.decrypt_enveloped(cms.sign_attached(SECRET, device_cert, device_key), device_cert, device_key)
