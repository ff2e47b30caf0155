"""`espalier mdmcerts`: vendor request, push request (push.b64) and its failure modes."""
from __future__ import annotations

import base64
import os
import plistlib
import stat
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import NameOID

from espalier.cli import mdmcerts as mdmcerts_module
from espalier.cli.mdmcerts import mdmcerts
from espalier.pki.push_request import PushRequestError, fetch_apple_chain
from fakes.push_certs import Issued, make_ca, sign_csr

VENDOR_PW = b"vendor secret"
PUSH_PW = b"push secret"
AFTER_INIT = ["vendor.csr", "vendor.key"]
AFTER_REQ = ["push.b64", "push.csr", "push.key", "vendor.crt", "vendor.csr", "vendor.key"]


@pytest.fixture(scope="module")
def apple() -> dict[str, Issued]:
    root = make_ca("Stand-in Apple Root CA")
    return {"root": root, "wwdr": make_ca("Stand-in Apple WWDR CA - G3", issuer=root)}


@pytest.fixture
def files(tmp_path: Path, apple) -> dict[str, Path]:
    paths = {"dir": tmp_path / "certs", "vendor_pw": tmp_path / "vendor.pw",
             "push_pw": tmp_path / "push.pw", "chain": tmp_path / "apple-chain.pem"}
    paths["vendor_pw"].write_bytes(VENDOR_PW + b"\n")
    paths["push_pw"].write_bytes(PUSH_PW + b"\n")
    # Root first on purpose: the request must still list the intermediate before the root.
    paths["chain"].write_bytes(apple["root"].cert_pem + apple["wwdr"].cert_pem)
    return paths


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(mdmcerts, list(args), input=input)


def init(files) -> None:
    result = run("-d", str(files["dir"]), "init", "--password-file", str(files["vendor_pw"]))
    assert result.exit_code == 0, result.output


def issue_vendor_cert(files, apple) -> x509.Certificate:
    cert = sign_csr(apple["wwdr"], (files["dir"] / "vendor.csr").read_bytes())
    # The portal hands out DER (.cer).
    (files["dir"] / "vendor.crt").write_bytes(cert.public_bytes(serialization.Encoding.DER))
    return cert


def req(files, country: str = "de", *extra: str):
    return run("-d", str(files["dir"]), "req", country,
               "--push-password-file", str(files["push_pw"]),
               "--vendor-password-file", str(files["vendor_pw"]),
               "--apple-chain", str(files["chain"]), *extra)


def listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def assert_one_line_failure(result) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr


def test_init_writes_encrypted_vendor_key_and_csr(files):
    init(files)
    d = files["dir"]
    assert listing(d) == AFTER_INIT
    assert stat.S_IMODE((d / "vendor.key").stat().st_mode) == 0o600
    key = serialization.load_pem_private_key((d / "vendor.key").read_bytes(), VENDOR_PW)
    csr = x509.load_pem_x509_csr((d / "vendor.csr").read_bytes())
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "MDM Vendor"
    assert csr.public_key().public_numbers() == key.public_key().public_numbers()
    assert key.key_size == 2048 and csr.is_signature_valid


def test_init_prompts_twice_and_says_what_to_do_next(files):
    result = run("-d", str(files["dir"]), "init", input="pw\npw\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("Vendor key password") == 1
    assert "Repeat for confirmation" in result.output
    assert "vendor.crt" in result.stdout and "MDM CSR" in result.stdout
    serialization.load_pem_private_key((files["dir"] / "vendor.key").read_bytes(), b"pw")


def test_init_without_a_terminal_names_the_password_file_option(files):
    result = run("-d", str(files["dir"]), "init", input="")
    assert result.exit_code == 2
    assert "no terminal" in result.output and "--password-file FILE" in result.output
    assert not (files["dir"] / "vendor.key").exists()


def test_init_refuses_to_overwrite_a_vendor_key(files):
    init(files)
    before = (files["dir"] / "vendor.key").read_bytes()
    result = run("-d", str(files["dir"]), "init", "--password-file", str(files["vendor_pw"]))
    assert_one_line_failure(result)
    assert "refusing to overwrite" in result.stderr
    assert (files["dir"] / "vendor.key").read_bytes() == before
    assert listing(files["dir"]) == AFTER_INIT


def test_req_writes_push_request_signed_by_vendor(files, apple):
    init(files)
    vendor_cert = issue_vendor_cert(files, apple)
    result = req(files, "de")
    assert result.exit_code == 0, result.output
    d = files["dir"]
    assert listing(d) == AFTER_REQ
    assert stat.S_IMODE((d / "push.key").stat().st_mode) == 0o600
    assert "identity.apple.com/pushcert" in result.stdout and "RENEW" in result.stdout

    request = plistlib.loads(base64.b64decode((d / "push.b64").read_bytes(), validate=True))
    assert set(request) == {"PushCertRequestCSR", "PushCertCertificateChain", "PushCertSignature"}
    csr_der = base64.b64decode(request["PushCertRequestCSR"])
    csr_pem = (d / "push.csr").read_bytes()
    assert x509.load_pem_x509_csr(csr_pem).public_bytes(serialization.Encoding.DER) == csr_der
    vendor_cert.public_key().verify(base64.b64decode(request["PushCertSignature"]), csr_der,
                                    padding.PKCS1v15(), hashes.SHA256())

    chain = x509.load_pem_x509_certificates(request["PushCertCertificateChain"].encode())
    assert chain == [vendor_cert, apple["wwdr"].cert, apple["root"].cert]

    csr = x509.load_der_x509_csr(csr_der)
    assert csr.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "DE"
    assert "APNS" in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    push_key = serialization.load_pem_private_key((d / "push.key").read_bytes(), PUSH_PW)
    assert push_key.public_key().public_numbers() == csr.public_key().public_numbers()


def test_req_prompts_for_both_passwords(files, apple):
    init(files)
    issue_vendor_cert(files, apple)
    result = run("-d", str(files["dir"]), "req", "FR", "--apple-chain", str(files["chain"]),
                 input=f"pp\npp\n{VENDOR_PW.decode()}\n")
    assert result.exit_code == 0, result.output
    assert "Push key password" in result.output and "Vendor key password" in result.output
    assert listing(files["dir"]) == AFTER_REQ


def _wrong_password(files, apple):
    issue_vendor_cert(files, apple)
    files["vendor_pw"].write_bytes(b"not the password\n")


def _missing_vendor_cert(files, apple):
    pass


def _foreign_vendor_cert(files, apple):
    other = make_ca("Some other key")
    (files["dir"] / "vendor.crt").write_bytes(other.cert_pem)


def _existing_push_key(files, apple):
    issue_vendor_cert(files, apple)
    (files["dir"] / "push.key").write_bytes(b"keep me")


@pytest.mark.parametrize("setup, country, expect", [
    (_wrong_password, "DE", "password"),
    (_missing_vendor_cert, "DE", "vendor.crt"),
    (_foreign_vendor_cert, "DE", "does not match"),
    (_existing_push_key, "DE", "refusing to overwrite"),
    (issue_vendor_cert, "DEU", "country code"),
    (issue_vendor_cert, "D1", "country code"),
    (issue_vendor_cert, "ÄB", "country code"),
])
def test_req_failure_is_one_line_exit_2_and_writes_nothing(files, apple, setup, country, expect):
    init(files)
    setup(files, apple)
    before = {name: (files["dir"] / name).read_bytes() for name in listing(files["dir"])}
    result = req(files, country)
    assert_one_line_failure(result)
    assert expect in result.stderr
    after = {name: (files["dir"] / name).read_bytes() for name in listing(files["dir"])}
    assert after == before


def test_req_without_chain_file_downloads_it_and_fails_cleanly_offline(files, apple, monkeypatch):
    init(files)
    issue_vendor_cert(files, apple)

    def offline():
        raise PushRequestError("cannot download https://www.apple.com/...: no network")

    monkeypatch.setattr(mdmcerts_module, "fetch_apple_chain", offline)
    result = run("-d", str(files["dir"]), "req", "DE", "--push-password-file", str(files["push_pw"]),
                 "--vendor-password-file", str(files["vendor_pw"]))
    assert_one_line_failure(result)
    assert listing(files["dir"]) == ["vendor.crt", *AFTER_INIT]


def test_fetch_apple_chain_converts_der_to_pem_in_order(apple):
    served = {"/wwdr.cer": apple["wwdr"].cert.public_bytes(serialization.Encoding.DER),
              "/root.cer": apple["root"].cert.public_bytes(serialization.Encoding.DER)}
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=served[r.url.path]))
    with httpx.Client(transport=transport) as client:
        pem = fetch_apple_chain(client, ("https://apple.test/wwdr.cer", "https://apple.test/root.cer"))
    assert x509.load_pem_x509_certificates(pem) == [apple["wwdr"].cert, apple["root"].cert]


def test_fetch_apple_chain_reports_http_errors_in_one_message():
    transport = httpx.MockTransport(lambda r: httpx.Response(404))
    with httpx.Client(transport=transport) as client, pytest.raises(PushRequestError, match="cannot download"):
        fetch_apple_chain(client, ("https://apple.test/wwdr.cer",))
