"""A small fake MDM server (httpx.MockTransport) and its fixtures, for the simulator's unit tests.

It uses espalier.pki for SCEP and CMS, which the simulator itself must not import:
both sides must agree for a test to pass. The real server is exercised in test_e2e_sim*.py.
Test modules import the fixtures from here: a conftest.py in this directory would shadow
tests/server/conftest.py for the modules that `from conftest import ...`.
"""
from __future__ import annotations

import base64
import plistlib
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from espalier.pki import ca, cms, scep

BASE = "https://mdm.example.test"
SECRET = "s3cret"
CHALLENGE = "one-challenge"


def sign_profile(plist: dict[str, Any], cert: x509.Certificate, key: rsa.RSAPrivateKey) -> bytes:
    return (pkcs7.PKCS7SignatureBuilder().set_data(plistlib.dumps(plist)).add_signer(cert, key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary]))


@dataclass
class FakeMDM:
    ca_cert: x509.Certificate
    ca_key: rsa.RSAPrivateKey
    signer: tuple[x509.Certificate, rsa.RSAPrivateKey]
    sign_profile: bool = True
    sign_message: bool = False
    check_out_when_removed: bool = True
    cacert_content_type: str = "application/x-x509-ca-cert"
    blocked: set[str] = field(default_factory=set)  # serials refused at the profile
    unrecognized: set[str] = field(default_factory=set)  # UDIDs answered com.apple.unrecognized.device
    checkins: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    headers: list[httpx.Headers] = field(default_factory=list)
    queues: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    scep_requests: list[scep.SCEPRequest] = field(default_factory=list)
    identities: dict[str, x509.Certificate] = field(default_factory=dict)  # UDID -> last cert seen
    bootstrap: dict[str, bytes] = field(default_factory=dict)
    skips: dict[str, set[str]] = field(default_factory=dict)  # UDID -> NotNow'd in this session

    def profile(self) -> dict[str, Any]:
        scep_uuid = str(uuid.uuid4()).upper()
        return {"PayloadType": "Configuration", "PayloadVersion": 1, "PayloadIdentifier": "com.example.mdm",
                "PayloadUUID": str(uuid.uuid4()).upper(), "PayloadDisplayName": "Fake MDM", "PayloadContent": [
                    {"PayloadType": "com.apple.security.scep", "PayloadVersion": 1, "PayloadUUID": scep_uuid,
                     "PayloadIdentifier": "com.example.mdm.scep", "PayloadContent": {
                         "URL": f"{BASE}/scep", "Name": "espalier", "Challenge": CHALLENGE, "Keysize": 2048,
                         "Key Type": "RSA", "Key Usage": 5,
                         "Subject": [[["O", "Espalier"]], [["CN", "espalier:%HardwareUUID%"]]]}},
                    {"PayloadType": "com.apple.mdm", "PayloadVersion": 1, "PayloadUUID": str(uuid.uuid4()).upper(),
                     "PayloadIdentifier": "com.example.mdm.mdm", "ServerURL": f"{BASE}/mdm/connect",
                     "CheckInURL": f"{BASE}/mdm/checkin", "Topic": "com.apple.mgmt.External.fake",
                     "IdentityCertificateUUID": scep_uuid, "SignMessage": self.sign_message, "AccessRights": 8191,
                     "CheckOutWhenRemoved": self.check_out_when_removed,
                     "ServerCapabilities": ["com.apple.mdm.per-user-connections", "com.apple.mdm.bootstraptoken"]}]}

    def queue(self, udid: str, request_type: str, **keys: Any) -> str:
        command_uuid = str(uuid.uuid4())
        self.queues.setdefault(udid, []).append(
            {"CommandUUID": command_uuid, "Command": {"RequestType": request_type, **keys}})
        return command_uuid

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=self.transport, base_url=BASE)

    # ---- handlers ---------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == f"/public/enroll/{SECRET}/":
            if request.url.params.get("serial_number") in self.blocked:
                return httpx.Response(403)
            body = plistlib.dumps(self.profile())
            if self.sign_profile:
                body = sign_profile(self.profile(), *self.signer)
            return httpx.Response(200, content=body, headers={"Content-Type": "application/x-apple-aspen-config"})
        if path == "/scep":
            return self._scep(request)
        if path in ("/mdm/checkin", "/mdm/connect"):
            return self._mdm(request, path)
        return httpx.Response(404)

    def _scep(self, request: httpx.Request) -> httpx.Response:
        operation = request.url.params.get("operation")
        if operation == "GetCACaps":
            body, content_type = scep.get_ca_caps()
            return httpx.Response(200, content=body, headers={"Content-Type": content_type})
        if operation == "GetCACert":
            body = self.ca_cert.public_bytes(serialization.Encoding.DER)
            return httpx.Response(200, content=body, headers={"Content-Type": self.cacert_content_type})
        parsed = scep.parse_pki_message(request.content, self.ca_cert, self.ca_key)
        self.scep_requests.append(parsed)
        fail = parsed.fail_info
        if fail is None and parsed.message_type == scep.PKCS_REQ and parsed.challenge != CHALLENGE:
            fail = scep.FailInfo.BAD_REQUEST
        if fail is None and parsed.message_type == scep.RENEWAL_REQ:
            parsed.signer_cert.verify_directly_issued_by(self.ca_cert)
        if fail is not None:
            body = scep.cert_rep_failure(parsed, fail, self.ca_cert, self.ca_key)
        else:
            assert parsed.csr is not None
            issued = ca.issue_certificate(self.ca_cert, self.ca_key, parsed.csr)
            body = scep.cert_rep_success(parsed, issued, self.ca_cert, self.ca_key, parsed.reply_cipher)
        return httpx.Response(200, content=body, headers={"Content-Type": "application/x-pki-message"})

    def _identity(self, request: httpx.Request) -> x509.Certificate:
        if "Mdm-Signature" in request.headers:
            return cms.verify_detached(base64.b64decode(request.headers["Mdm-Signature"]), request.content)
        cert = x509.load_pem_x509_certificate(unquote(request.headers["X-SSL-Client-Cert"]).encode())
        assert request.headers["X-SSL-Client-S-DN"] == cert.subject.rfc4514_string()
        return cert

    def _mdm(self, request: httpx.Request, path: str) -> httpx.Response:
        message = plistlib.loads(request.content)
        cert = self._identity(request)
        cert.verify_directly_issued_by(self.ca_cert)
        self.headers.append(request.headers)
        udid = message["UDID"]
        self.identities[udid] = cert
        if udid in self.unrecognized:
            return httpx.Response(403, json={"code": "com.apple.unrecognized.device"})
        if path == "/mdm/checkin":
            assert request.headers["Content-Type"] == "application/x-apple-aspen-mdm-checkin"
            self.checkins.append(message)
            if message["MessageType"] == "SetBootstrapToken":
                self.bootstrap[udid] = message["BootstrapToken"]
            if message["MessageType"] == "GetBootstrapToken":
                return httpx.Response(200, content=plistlib.dumps({"BootstrapToken": self.bootstrap.get(udid, b"")}))
            return httpx.Response(200)
        assert request.headers["Content-Type"] == "application/x-apple-aspen-mdm"
        self.reports.append(message)
        queue = self.queues.setdefault(udid, [])
        skip = self.skips.setdefault(udid, set())
        if message["Status"] == "Idle":
            skip.clear()
        elif message["Status"] == "NotNow":
            skip.add(message["CommandUUID"])
        else:
            queue[:] = [c for c in queue if c["CommandUUID"] != message["CommandUUID"]]
        pending = [c for c in queue if c["CommandUUID"] not in skip]
        return httpx.Response(200, content=plistlib.dumps(pending[0]) if pending else b"")
