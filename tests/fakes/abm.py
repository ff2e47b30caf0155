"""A fake Apple Business Manager (the ADE/DEP API) over HTTPS on 127.0.0.1, with its own CA.

    with FakeABM(devices=250) as fake:
        p7m = fake.server_token_p7m(certificate_pem)   # what ABM lets you download
        client = ABMClient(fake.base_url, credentials, verify=fake.ca_file)

What it checks as Apple does: ``GET /session`` must carry a valid OAuth 1.0a HMAC-SHA1
``Authorization`` (verified with oauthlib's server-side signature check; nonces are
single-use); every other call needs a live ``X-ADM-Auth-Session`` (401 ``UNAUTHORIZED``
once expired, 403 ``FORBIDDEN`` for one it never issued) and a User-Agent. Sessions
are rotated (a new ``X-ADM-Auth-Session`` in the response) every ``rotate_every`` calls.

Devices: ``POST /server/devices`` walks a snapshot sorted by serial with a cursor; its
last page's cursor is a sync cursor, and fetching with it again is 400 ``EXHAUSTED_CURSOR``.
``POST /devices/sync`` returns the change log after the cursor (``op_type``, ``op_date``).
Unknown cursors are 400 ``INVALID_CURSOR``, expired ones 400 ``EXPIRED_CURSOR``.

The test API scripts Apple's behaviour: ``add``/``modify``/``delete`` devices (logged as
sync events), ``expire_sessions``, ``throttle`` (429/503 with Retry-After), ``echo_cursor``
(the same cursor back with ``more_to_follow``: Apple's bug), ``expire_cursors``,
``throttle_devices`` (per-device THROTTLED on profile assignment). ``requests`` records
(method, path, body) of every call.
"""
from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import itertools
import json
import secrets
import ssl
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID
from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature as oauth_signature

MAX_LIMIT = 1000
BASE_DATE = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_device(i: int, serial: str | None = None, **extra) -> dict:
    device = {
        "serial_number": serial or f"FAKE{i:08d}",
        "model": "MacBook Pro 14-inch", "description": "MBP 14 SPG", "color": "SPACE GRAY",
        "asset_tag": "", "os": "OSX", "device_family": "Mac", "profile_status": "empty",
        "device_assigned_date": iso(BASE_DATE), "device_assigned_by": "admin@example.com",
    }
    device.update(extra)
    return device


@dataclass
class Credentials:
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_secret: str
    access_token_expiry: str

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class _Cursor:
    kind: str  # "fetch" (offset into snapshot) or "sync" (position in the change log)
    position: int
    snapshot: list[str] = field(default_factory=list)
    log_at: int = 0  # a fetch's change-log position: where the sync after it starts
    expired: bool = False


class FakeABM:
    def __init__(self, devices: int = 0, *, server_uuid: str | None = None, server_name: str = "Fake MDM server",
                 org_name: str = "Fake Org", org_id: str = "1234567", admin_id: str = "admin@example.com",
                 rotate_every: int = 0, fetch_limit: dict | None = None, sync_limit: dict | None = None,
                 host: str = "127.0.0.1"):
        self.host = host
        self.account = {"server_name": server_name, "server_uuid": server_uuid or str(uuid.uuid4()).upper(),
                        "admin_id": admin_id, "facilitator_id": admin_id, "org_name": org_name, "org_id": org_id,
                        "org_email": "it@example.com", "org_phone": "+1 555 0100", "org_address": "1 Infinite Loop",
                        "org_type": "org", "org_version": "v2", "org_id_hash": "abc"}
        self.limits = {"/server/devices": fetch_limit or {"default": 100, "maximum": MAX_LIMIT},
                       "/devices/sync": sync_limit or {"default": 100, "maximum": MAX_LIMIT}}
        self.rotate_every = rotate_every
        self.credentials: dict[str, Credentials] = {}  # consumer_key -> credentials
        self.nonces: set[str] = set()
        self.sessions: set[str] = set()
        self.dead_sessions: set[str] = set()
        self.devices: dict[str, dict] = {}
        self.log: list[dict] = []  # sync events, each a device dict with op_type and op_date
        self.cursors: dict[str, _Cursor] = {}
        self.requests: list[tuple[str, str, object]] = []
        self.session_calls = 0
        self.profiles: dict[str, dict] = {}
        self._throttles: list[tuple[int, int]] = []  # (status, retry_after) per coming request
        self._echo = 0
        self._throttled_devices: set[str] = set()
        self.profile_error: str | None = None  # a code POST /profile answers (scripted refusal)
        self._calls_on_session = 0
        self._clock = itertools.count(1)
        self._lock = threading.RLock()
        for i in range(devices):
            d = make_device(i)
            self.devices[d["serial_number"]] = d

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> FakeABM:
        self._dir = tempfile.TemporaryDirectory(prefix="fake-abm-")
        directory = Path(self._dir.name)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(_server_identity(directory, self.host))
        self.ca_file = str(directory / "ca.pem")
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer((self.host, 0), handler)
        self._server.daemon_threads = True
        self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-abm", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._dir.cleanup()

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    # -- server tokens ------------------------------------------------------------------------

    def issue_credentials(self, expiry: dt.datetime | None = None) -> Credentials:
        expiry = expiry or dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=365)
        creds = Credentials(f"CK_{secrets.token_hex(16)}", f"CS_{secrets.token_hex(16)}",
                            f"AT_{secrets.token_hex(24)}", f"AS_{secrets.token_hex(16)}",
                            expiry.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
        self.credentials[creds.consumer_key] = creds
        return creds

    def server_token_p7m(self, certificate_pem: bytes | str, credentials: Credentials | None = None,
                         expiry: dt.datetime | None = None) -> bytes:
        """The ``*_smime.p7m`` ABM lets you download: S/MIME, EnvelopedData to ``certificate_pem``."""
        creds = credentials or self.issue_credentials(expiry)
        message = (b"Content-Type: text/plain;charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
                   b"-----BEGIN MESSAGE-----\r\n" + json.dumps(creds.as_dict()).encode() +
                   b"\r\n-----END MESSAGE-----\r\n")
        pem = certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem
        cert = x509.load_pem_x509_certificate(pem)
        return (pkcs7.PKCS7EnvelopeBuilder().set_data(message).add_recipient(cert)
                .encrypt(serialization.Encoding.SMIME, []))

    # -- test API -------------------------------------------------------------------------------

    def _event(self, device: dict, op_type: str) -> None:
        when = BASE_DATE + dt.timedelta(seconds=next(self._clock))
        self.log.append({**device, "op_type": op_type, "op_date": iso(when)})

    def add(self, *devices: dict) -> None:
        with self._lock:
            for d in devices:
                self.devices[d["serial_number"]] = d
                self._event(d, "added")

    def modify(self, serial: str, **changes) -> None:
        with self._lock:
            self.devices[serial].update(changes)
            self._event(self.devices[serial], "modified")

    def delete(self, serial: str) -> None:
        with self._lock:
            device = self.devices.pop(serial)
            self._event({"serial_number": device["serial_number"]}, "deleted")

    def repeat_event(self, serial: str, op_type: str, op_date: str) -> None:
        """A stale event for ``serial`` (Apple may repeat a device within a sync)."""
        with self._lock:
            self.log.append({**self.devices.get(serial, {"serial_number": serial}),
                             "op_type": op_type, "op_date": op_date})

    def expire_sessions(self) -> None:
        with self._lock:
            self.dead_sessions |= self.sessions
            self.sessions.clear()

    def throttle(self, times: int = 1, status: int = 429, retry_after: int = 1) -> None:
        with self._lock:
            self._throttles.extend([(status, retry_after)] * times)

    def echo_cursor(self, times: int = 1) -> None:
        with self._lock:
            self._echo += times

    def expire_cursors(self) -> None:
        with self._lock:
            for c in self.cursors.values():
                c.expired = True

    def throttle_devices(self, *serials: str) -> None:
        """These serials answer THROTTLED to their next assignment (once)."""
        self._throttled_devices.update(serials)

    def calls(self, path: str) -> list:
        return [r for r in self.requests if r[1] == path]

    # -- cursors ----------------------------------------------------------------------------------

    def _new_cursor(self, c: _Cursor) -> str:
        token = base64.urlsafe_b64encode(secrets.token_bytes(18)).decode()
        self.cursors[token] = c
        return token

    def _cursor(self, token, kind: str) -> tuple[_Cursor | None, tuple[int, str] | None]:
        if token in (None, ""):
            return None, None
        c = self.cursors.get(token) if isinstance(token, str) else None
        if c is None:
            return None, (400, "INVALID_CURSOR")
        if c.expired:
            return None, (400, "EXPIRED_CURSOR")
        if kind == "fetch" and c.kind == "sync":
            return None, (400, "EXHAUSTED_CURSOR")
        if kind == "sync" and c.kind == "fetch":
            return None, (400, "INVALID_CURSOR")
        return c, None

    def _limit(self, path: str, body: dict) -> int | tuple[int, str]:
        limit = body.get("limit", self.limits[path]["default"])
        if not isinstance(limit, int) or limit < 1:
            return 400, "MALFORMED_REQUEST_BODY"
        return min(limit, self.limits[path]["maximum"])

    def fetch(self, body: dict):
        limit = self._limit("/server/devices", body)
        if isinstance(limit, tuple):
            return limit
        c, err = self._cursor(body.get("cursor"), "fetch")
        if err:
            return err
        if self._echo and c is not None:
            self._echo -= 1
            return 200, {"cursor": body["cursor"], "devices": [], "fetched_until": iso(BASE_DATE), "more_to_follow": True}
        if c is None:
            c = _Cursor("fetch", 0, sorted(self.devices), len(self.log))
        page = [self.devices[s] for s in c.snapshot[c.position:c.position + limit] if s in self.devices]
        end = c.position + limit
        more = end < len(c.snapshot)
        nxt = _Cursor("fetch", end, c.snapshot, c.log_at) if more else _Cursor("sync", c.log_at)
        return 200, {"cursor": self._new_cursor(nxt), "devices": page,
                     "fetched_until": iso(BASE_DATE), "more_to_follow": more}

    def sync(self, body: dict):
        if not body.get("cursor"):
            return 400, "MALFORMED_REQUEST_BODY"
        limit = self._limit("/devices/sync", body)
        if isinstance(limit, tuple):
            return limit
        c, err = self._cursor(body["cursor"], "sync")
        if err:
            return err
        if self._echo:
            self._echo -= 1
            return 200, {"cursor": body["cursor"], "devices": [], "fetched_until": iso(BASE_DATE), "more_to_follow": True}
        events = self.log[c.position:c.position + limit]
        end = c.position + len(events)
        return 200, {"cursor": self._new_cursor(_Cursor("sync", end)), "devices": events,
                     "fetched_until": iso(BASE_DATE), "more_to_follow": end < len(self.log)}

    # -- the OAuth 1.0a session ------------------------------------------------------------------

    def open_session(self, method: str, url: str, headers: dict) -> tuple[int, object]:
        request = OAuthRequest(url, method, None, headers)
        auth = headers.get("Authorization", "")
        if not auth.startswith("OAuth "):
            return 400, {"error": "oauth_problem=parameter_absent"}
        query = url.partition("?")[2]
        params = dict(oauth_signature.collect_parameters(uri_query=query, headers={"Authorization": auth},
                                                         exclude_oauth_signature=False))
        request.params = oauth_signature.collect_parameters(uri_query=query, headers={"Authorization": auth})
        request.signature = params.get("oauth_signature")
        creds = self.credentials.get(params.get("oauth_consumer_key", ""))
        if params.get("oauth_signature_method") != "HMAC-SHA1" or not request.signature:
            return 400, {"error": "oauth_problem=signature_method_rejected"}
        if creds is None or params.get("oauth_token") != creds.access_token:
            return 401, {"error": "token_rejected"}
        if dt.datetime.fromisoformat(creds.access_token_expiry) <= dt.datetime.now(dt.timezone.utc):
            return 401, {"error": "token_expired"}
        nonce = params.get("oauth_nonce", "")
        if not nonce or nonce in self.nonces:
            return 401, {"error": "nonce_used"}
        if not oauth_signature.verify_hmac_sha1(request, creds.consumer_secret, creds.access_secret):
            return 401, {"error": "signature_invalid"}
        self.nonces.add(nonce)
        token = self._new_session()
        return 200, {"auth_session_token": token}

    def _new_session(self) -> str:
        token = f"S_{secrets.token_hex(16)}"
        self.sessions.add(token)
        self._calls_on_session = 0
        self.session_calls += 1
        return token

    def handle(self, method: str, path: str, headers: dict, body: dict) -> tuple[int, object, dict]:
        """(status, JSON or text body, extra headers) for one call after /session."""
        with self._lock:
            if self._throttles:
                status, retry_after = self._throttles.pop(0)
                return status, "SERVICE_UNAVAILABLE" if status == 503 else "TOO_MANY_REQUESTS", \
                    {"Retry-After": str(retry_after)}
            if not headers.get("User-Agent"):
                return 400, "USER_AGENT_MISSING", {}
            session = headers.get("X-ADM-Auth-Session")
            if session in self.dead_sessions:
                return 401, "UNAUTHORIZED", {}
            if session not in self.sessions:
                return 403, "FORBIDDEN", {}
            extra = {}
            self._calls_on_session += 1
            if self.rotate_every and self._calls_on_session >= self.rotate_every:
                self.sessions.discard(session)
                self.dead_sessions.add(session)
                extra["X-ADM-Auth-Session"] = self._new_session()
            status, out = self._route(method, path, body)
            return status, out, extra

    def _route(self, method: str, path: str, body: dict):
        if (method, path) == ("GET", "/account"):
            urls = [{"uri": uri, "http_method": ["POST"], "limit": lim} for uri, lim in self.limits.items()]
            return 200, {**self.account, "urls": urls}
        if (method, path) == ("POST", "/server/devices"):
            return self.fetch(body)
        if (method, path) == ("POST", "/devices/sync"):
            return self.sync(body)
        if (method, path) == ("POST", "/devices"):
            serials = body.get("devices") or []
            return 200, {"devices": {s: self.devices.get(s, {"response_status": "NOT_FOUND"}) for s in serials}}
        if (method, path) == ("POST", "/profile"):
            return self.define(body)
        if (method, path) in (("POST", "/profile/devices"), ("PUT", "/profile/devices")):
            if body.get("profile_uuid") not in self.profiles:
                return 404, "NOT_FOUND"
            serials = body.get("devices") or []
            if len(serials) > MAX_LIMIT:
                return 400, "DEVICE_ID_LIMIT_EXCEEDED"
            results, throttled = self._assign(body["profile_uuid"], serials)
            out = {"profile_uuid": body["profile_uuid"], "devices": results}
            if throttled:
                out["retry_after_seconds"] = 60
            return 200, out
        if (method, path) == ("POST", "/devices/disown"):
            results = {}
            for s in body.get("devices") or []:
                if s in self.devices:
                    self.delete(s)
                    results[s] = "SUCCESS"
                else:
                    results[s] = "NOT_ACCESSIBLE"
            return 200, {"devices": results}
        return 404, "NOT_FOUND"

    def define(self, body: dict):
        if not body.get("profile_name"):
            return 400, "CONFIG_NAME_REQUIRED"
        if body.get("is_mdm_removable") is False and body.get("is_supervised") is False:
            return 400, "FLAGS_INVALID"
        if self.profile_error:
            return 400, self.profile_error
        profile_uuid = uuid.uuid4().hex.upper()
        self.profiles[profile_uuid] = body
        return 200, {"profile_uuid": profile_uuid, "devices": self._assign(profile_uuid, body.get("devices") or [])[0]}

    def _assign(self, profile_uuid: str, serials: list[str]) -> tuple[dict, bool]:
        results, throttled = {}, False
        for s in serials:
            if s in self._throttled_devices:
                self._throttled_devices.discard(s)
                results[s], throttled = "THROTTLED", True
            elif s in self.devices:
                self.devices[s].update(profile_uuid=profile_uuid, profile_status="assigned",
                                       profile_assign_time=iso(BASE_DATE))
                results[s] = "SUCCESS"
            else:
                results[s] = "NOT_ACCESSIBLE"
        return results, throttled


class _Handler(BaseHTTPRequestHandler):
    fake: FakeABM
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _answer(self, status: int, payload, extra: dict | None = None) -> None:
        if isinstance(payload, (dict, list)):
            data, ctype = json.dumps(payload).encode(), "application/json;charset=UTF8"
        else:
            data, ctype = str(payload).encode(), "text/plain;charset=UTF8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            self._answer(400, "MALFORMED_REQUEST_BODY")
            return
        self.fake.requests.append((method, path, body))
        headers = {k: v for k, v in self.headers.items()}
        if path == "/session":
            with self.fake._lock:
                status, out = self.fake.open_session(method, f"{self.fake.base_url}{self.path}", headers)
            self._answer(status, out)
            return
        status, out, extra = self.fake.handle(method, path, headers, body if isinstance(body, dict) else {})
        self._answer(status, out, extra)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")


def _server_identity(directory: Path, host: str) -> str:
    """A CA of the fake's own (ca.pem) and the server certificate it signs; returns the identity PEM."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fake ABM CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mdmenrollment.fake")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    identity = directory / "server-identity.pem"
    identity.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(identity)
