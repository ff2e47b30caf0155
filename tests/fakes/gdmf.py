"""A fake of Apple's software update catalogue (gdmf.apple.com/v2/pmv) over HTTPS on 127.0.0.1.

    with FakeGdmf() as fake:
        settings: apps.espalier.mdm.software_updates = {"url": fake.url, "ca_bundle": fake.ca_file}
        fake.feed = {...}          # what the next GET answers (JSON), default CATALOGUE
        fake.body = b"junk"        # or raw bytes
        fake.status = 503
        fake.dribble = 0.2         # seconds between 1 KiB writes (a slow server)

Its certificate is issued by a CA of its own (``ca_file``), as Apple's chains to Apple Root
CA: a client that trusts another bundle (``other_ca_file``) must refuse it. ``requests``
counts the GETs answered.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

MAC_IDS = ["J274AP", "J313AP", "Mac-827FAC58A8FDFA22", "VMA2MACOSAP"]
IPHONE_IDS = ["D16AP", "D17AP", "D73AP"]
IPAD_IDS = ["J310AP", "J517AP"]


def _entry(version, build, posted, devices, expires=None, **extra):
    entry = {"ProductVersion": version, "Build": build, "PostingDate": posted, "SupportedDevices": devices}
    if expires:
        entry["ExpirationDate"] = expires
    entry.update(extra)
    return entry


# The feed's shape as Apple serves it: the public sets list the newest releases, AssetSets
# (what MDM may enforce) also the previous major's, with expirations on superseded ones.
CATALOGUE = {
    "PublicAssetSets": {
        "iOS": [_entry("18.1", "22B83", "2024-10-28", IPHONE_IDS + IPAD_IDS),
                _entry("17.7.1", "21H216", "2024-10-28", IPHONE_IDS + IPAD_IDS)],
        "macOS": [_entry("15.1", "24B83", "2024-10-28", MAC_IDS),
                  _entry("14.7.1", "23H222", "2024-10-28", MAC_IDS)],
    },
    "AssetSets": {
        "iOS": [_entry("18.1", "22B83", "2024-10-28", IPHONE_IDS + IPAD_IDS),
                _entry("18.0.1", "22A3370", "2024-10-03", IPHONE_IDS + IPAD_IDS, "2025-01-28"),
                _entry("17.7.1", "21H216", "2024-10-28", IPHONE_IDS + IPAD_IDS),
                _entry("17.7", "21H16", "2024-09-16", IPHONE_IDS, "2024-12-01")],
        "macOS": [_entry("15.1", "24B83", "2024-10-28", MAC_IDS),
                  _entry("15.0.1", "24A348", "2024-10-03", MAC_IDS, "2025-01-28"),
                  _entry("14.7.1", "23H222", "2024-10-28", MAC_IDS),
                  _entry("14.7", "23H124", "2024-09-16", MAC_IDS[:2], "2024-12-01")],
        "xrOS": [_entry("2.1", "22N580", "2024-10-28", ["N301AP"])],
    },
    "PublicBackgroundSecurityImprovements": {
        "macOS": [_entry("15.1", "24B83a", "2024-11-05", MAC_IDS[:2], ProductVersionExtra="(a)",
                         PrerequisiteBuild="24B83")],
    },
}
CATALOGUE_ENTRIES = 2 + 2 + 4 + 4 + 1 + 1  # rows a sync creates from CATALOGUE


def make_ca(directory: Path, name: str) -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    path = directory / f"{name.replace(' ', '_')}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def _server_context(directory: Path, ca_key, ca_cert) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gdmf.apple.test")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


class FakeGdmf:
    def __init__(self) -> None:
        self.feed: object = CATALOGUE
        self.body: bytes | None = None
        self.status = 200
        self.dribble = 0.0
        self.requests = 0
        self._dir = tempfile.TemporaryDirectory(prefix="fake-gdmf-")
        directory = Path(self._dir.name)
        self.ca_path, ca_key, ca_cert = make_ca(directory, "Fake Apple Root CA")
        self.other_ca_path, _, _ = make_ca(directory, "Some Other CA")
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                fake.requests += 1
                body = fake.body if fake.body is not None else json.dumps(fake.feed).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                if not fake.dribble:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not fake.dribble:
                    self.wfile.write(body)
                    return
                for start in range(0, len(body), 1024):
                    try:
                        self.wfile.write(body[start:start + 1024])
                        self.wfile.flush()
                    except OSError:
                        return
                    time.sleep(fake.dribble)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        context = _server_context(directory, ca_key, ca_cert)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-gdmf", daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}/v2/pmv"

    @property
    def ca_file(self) -> str:
        return str(self.ca_path)

    @property
    def other_ca_file(self) -> str:
        return str(self.other_ca_path)

    def __enter__(self) -> FakeGdmf:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._dir.cleanup()
