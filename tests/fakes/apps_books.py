"""A fake Apps and Books service (v2, ``/mdm/v2/``): HTTPS on 127.0.0.1 with its own CA.

    with FakeAppsBooks() as fake:
        loc = fake.add_location(name="Paris", assets=[("361309726", "STDQ", 10)])
        client = AppsBooksClient(fake.base_url, loc.stoken, verify=fake.ca_file)
        fake.throttle(1, retry_after=1)          # next request: 429 with Retry-After
        fake.on_page("assets", 1, loc.bump_version)  # a write while a sync reads page 1

It answers what Espalier uses of Apple's service: ``client/config`` (GET, and POST to claim
the location: mdmInfo, notification URL and auth token), ``service/config``, ``assets`` and
``assignments`` in pages with a ``versionId`` that changes on every write,
``assets/associate`` and ``assets/disassociate`` (asynchronous: an ``eventId``, then
``status?eventId=``, and an ``ASSET_MANAGEMENT`` notification to the claimed URL), with
Apple's error shape ``{"errorNumber", "errorMessage"}``: 401 for a token it does not know
(errorNumber 9622), 429 with ``Retry-After`` when told to throttle. The bearer token is the
``.vpptoken`` content as downloaded. Every request is recorded in ``fake.requests``.
"""
from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import itertools
import json
import ssl
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

INVALID_TOKEN = 9622


def vpptoken(token: str, org_name: str, expires: dt.datetime) -> str:
    """A ``.vpptoken`` file's content: base64 of JSON {token, expDate, orgName}."""
    data = {"token": token, "expDate": expires.strftime("%Y-%m-%dT%H:%M:%S+0000"), "orgName": org_name}
    return base64.b64encode(json.dumps(data).encode()).decode()


@dataclass
class FakeLocation:
    uid: str
    name: str
    org_name: str
    country: str
    platform: str
    website_url: str
    expires: dt.datetime
    stoken: str = ""  # the .vpptoken content: the bearer token
    mdm_info: dict | None = None
    notification_url: str | None = None
    notification_auth_token: str | None = None
    notification_types: list = field(default_factory=list)
    assets: dict = field(default_factory=dict)  # (adamId, pricingParam) -> asset dict
    assignments: dict = field(default_factory=dict)  # (adamId, pricingParam, serial) -> None (ordered set)
    version: int = 1

    def assigned_counts(self) -> dict:
        counts: dict = {}
        for adam_id, pricing_param, _ in self.assignments:
            counts[(adam_id, pricing_param)] = counts.get((adam_id, pricing_param), 0) + 1
        return counts

    def bump_version(self) -> None:
        self.version += 1

    @property
    def version_id(self) -> str:
        return f"{self.uid[:8]}-{self.version}"

    def add_asset(self, adam_id: str, pricing_param: str = "STDQ", total: int = 10, product_type: str = "App",
                  platforms: tuple = ("iOS", "macOS"), retired: int = 0) -> None:
        self.assets[(adam_id, pricing_param)] = {
            "adamId": adam_id, "pricingParam": pricing_param, "productType": product_type,
            "totalCount": total, "retiredCount": retired, "deviceAssignable": True, "revocable": True,
            "supportedPlatforms": list(platforms)}
        self.bump_version()

    def assign(self, adam_id: str, pricing_param: str, serial: str) -> None:
        self.assignments[(adam_id, pricing_param, serial)] = None
        self.bump_version()

    def asset_json(self, key, assigned_counts: dict | None = None) -> dict:
        asset = dict(self.assets[key])
        if assigned_counts is None:
            assigned_counts = self.assigned_counts()
        assigned = assigned_counts.get(key, 0)
        asset["assignedCount"] = assigned
        asset["availableCount"] = asset["totalCount"] - assigned
        return asset


@dataclass
class FakeEvent:
    id: str
    location: FakeLocation
    kind: str  # ASSOCIATE | DISASSOCIATE
    assets: list
    serials: list
    status: str = "PENDING"
    failures: list = field(default_factory=list)


@dataclass
class RecordedRequest:
    method: str
    path: str  # under /mdm/v2/
    query: dict
    authorization: str | None
    body: object


class FakeAppsBooks:
    """The fake service; a context manager that serves in threads of its own."""

    def __init__(self, host: str = "127.0.0.1", assets_page_size: int = 100, assignments_page_size: int = 100,
                 auto_complete: bool = True):
        self.host = host
        self.assets_page_size = assets_page_size
        self.assignments_page_size = assignments_page_size
        self.auto_complete = auto_complete  # associate/disassociate complete (and notify) at once
        self.locations: dict[str, FakeLocation] = {}  # by stoken
        self.events: dict[str, FakeEvent] = {}
        self.requests: list[RecordedRequest] = []
        self.notifications: list[tuple[str, dict, int]] = []  # (url, body, status answered)
        self.deliver: Callable[[str, dict, bytes], int] | None = None  # default: POST with httpx
        self.limits = {"maxAssets": 25, "maxSerialNumbers": 1000, "maxClientUserIds": 1000}
        self._throttle: list[float] = []
        self._failures: list[tuple[str, int, int, str]] = []
        self._page_hooks: dict[tuple[str, int], list[Callable]] = {}
        self._lock = threading.RLock()
        self._serials = itertools.count(1)

    # -- what tests arrange -------------------------------------------------------------

    def add_location(self, name: str = "Main Location", org_name: str = "Example Org", country: str = "FR",
                     platform: str = "enterprisestore", days: int = 365, uid: str | None = None,
                     assets=()) -> FakeLocation:
        loc = FakeLocation(uid=uid or str(uuid.uuid4()), name=name, org_name=org_name, country=country,
                           platform=platform, website_url="https://business.apple.com",
                           expires=(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days)).replace(microsecond=0))
        for adam_id, pricing_param, total in assets:
            loc.add_asset(adam_id, pricing_param, total)
        return self.new_token(loc)

    def new_token(self, loc: FakeLocation, days: int | None = None) -> FakeLocation:
        """A fresh .vpptoken for ``loc`` (Apple's "download a new token"): the old one stops working."""
        with self._lock:
            if days is not None:
                loc.expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days)).replace(microsecond=0)
            self.locations.pop(loc.stoken, None)
            loc.stoken = vpptoken(uuid.uuid4().hex + uuid.uuid4().hex, loc.org_name, loc.expires)
            self.locations[loc.stoken] = loc
        return loc

    def claim_elsewhere(self, loc: FakeLocation, name: str = "Other MDM") -> None:
        """Another MDM server claims the location."""
        loc.mdm_info = {"id": str(uuid.uuid4()), "name": name, "metadata": "other.example.com"}
        loc.notification_url, loc.notification_auth_token = "https://other.example.com/notify", "theirs"

    def throttle(self, count: int = 1, retry_after: float = 1) -> None:
        """The next ``count`` requests are answered 429 with ``Retry-After``."""
        with self._lock:
            self._throttle.extend([retry_after] * count)

    def fail(self, path: str, status: int, error_number: int, message: str = "failure", count: int = 1) -> None:
        with self._lock:
            self._failures.extend([(path, status, error_number, message)] * count)

    def on_page(self, path: str, page_index: int, hook: Callable[[], None]) -> None:
        """Call ``hook`` just before answering page ``page_index`` of ``path`` (once: each hook
        added serves one visit of the page)."""
        self._page_hooks.setdefault((path, page_index), []).append(hook)

    def fill(self, loc: FakeLocation, assets: int, assignments_per_asset: int = 2) -> None:
        """``assets`` assets, each with its assignments to serial numbers (benchmarks)."""
        for n in range(assets):
            adam_id = str(100000000 + n)
            loc.assets[(adam_id, "STDQ")] = {
                "adamId": adam_id, "pricingParam": "STDQ", "productType": "App" if n % 10 else "Book",
                "totalCount": assignments_per_asset + 5, "retiredCount": 0, "deviceAssignable": True,
                "revocable": True, "supportedPlatforms": ["iOS", "macOS"]}
            for _ in range(assignments_per_asset):
                loc.assignments[(adam_id, "STDQ", f"FAKE{next(self._serials):08d}")] = None
        loc.bump_version()

    def complete(self, event_id: str, failures: list | None = None, notify: bool = True) -> None:
        """Finish an event: apply it, and notify the claimed URL (unless ``notify`` is False)."""
        with self._lock:
            event = self.events[event_id]
            event.status = "FAILED" if failures else "COMPLETE"
            event.failures = failures or []
            loc = event.location
            if not failures:
                for asset in event.assets:
                    key = (asset["adamId"], asset["pricingParam"])
                    for serial in event.serials:
                        if event.kind == "ASSOCIATE":
                            loc.assignments[key + (serial,)] = None
                        else:
                            loc.assignments.pop(key + (serial,), None)
                loc.bump_version()
        if notify:
            self.notify(loc, "ASSET_MANAGEMENT", {
                "type": event.kind, "result": "FAILURE" if failures else "SUCCESS", "eventId": event.id,
                "assignments": [{"adamId": a["adamId"], "pricingParam": a["pricingParam"], "serialNumber": s}
                                for a in event.assets for s in event.serials]})

    def notify(self, loc: FakeLocation, notification_type: str, notification: dict,
               notification_id: str | None = None, token: str | None = None) -> int:
        """POST a notification to the location's claimed URL with its auth token; the status."""
        body = {"notificationId": notification_id or str(uuid.uuid4()), "notificationType": notification_type,
                "uId": loc.uid, "notification": notification}
        raw = json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {token or loc.notification_auth_token}",
                   "Content-Type": "application/json"}
        if self.deliver is not None:
            status = self.deliver(loc.notification_url, headers, raw)
        else:
            import httpx

            status = httpx.post(loc.notification_url, content=raw, headers=headers, timeout=10).status_code
        self.notifications.append((loc.notification_url, body, status))
        return status

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}/mdm/v2/"

    @property
    def ca_file(self) -> str:
        return str(self._dir / "ca.pem")

    def __enter__(self) -> FakeAppsBooks:
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-apps-books-")
        self._dir = Path(self._tmp.name)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(_server_identity(self._dir, self.host))
        fake = self

        class Handler(_Handler):
            service = fake

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-apps-books", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
        self._tmp.cleanup()

    # -- answering ----------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict, authorization: str | None, body) -> tuple[int, dict, dict]:
        """(status, JSON body, extra headers) for one request."""
        with self._lock:
            self.requests.append(RecordedRequest(method, path, query, authorization, body))
            if self._throttle:
                retry_after = self._throttle.pop(0)
                return 429, {"errorNumber": 9603, "errorMessage": "Too many requests"}, {
                    "Retry-After": f"{retry_after:g}"}
            for n, (fpath, status, number, message) in enumerate(self._failures):
                if fpath == path:
                    del self._failures[n]
                    return status, {"errorNumber": number, "errorMessage": message}, {}
            scheme, _, token = (authorization or "").partition(" ")
            loc = self.locations.get(token) if scheme == "Bearer" else None
            if loc is None:
                return 401, {"errorNumber": INVALID_TOKEN, "errorMessage": "Invalid authentication token"}, {}
            handler = _ROUTES.get((method, path))
            if handler is None:
                return 404, {"errorNumber": 9600, "errorMessage": f"no such endpoint {method} {path}"}, {}
            hooks = self._page_hooks.get((path, int(query.get("pageIndex", 0) or 0)) if str(
                query.get("pageIndex", 0)).isdigit() else None)
            hook = hooks.pop(0) if hooks else None
        if hook is not None:
            hook()
        with self._lock:
            return handler(self, loc, query, body)

    def _client_config(self, loc, query, body):
        return 200, self._config_json(loc), {}

    def _claim(self, loc, query, body):
        if not isinstance(body, dict) or not isinstance(body.get("mdmInfo"), dict):
            return 400, {"errorNumber": 9601, "errorMessage": "mdmInfo is required"}, {}
        loc.mdm_info = body["mdmInfo"]
        loc.notification_url = body.get("notificationUrl")
        loc.notification_auth_token = body.get("notificationAuthToken")
        loc.notification_types = list(body.get("notificationTypes") or [])
        return 200, self._config_json(loc), {}

    def _config_json(self, loc):
        out = {"locationName": loc.name, "countryISO2ACode": loc.country, "defaultPlatform": loc.platform,
               "uId": loc.uid, "websiteURL": loc.website_url,
               "tokenExpirationDate": loc.expires.strftime("%Y-%m-%dT%H:%M:%S+0000"),
               "notificationTypes": loc.notification_types}
        if loc.mdm_info is not None:
            out["mdmInfo"] = loc.mdm_info
        if loc.notification_url:
            out["notificationUrl"] = loc.notification_url
        return out

    def _service_config(self, loc, query, body):
        return 200, {"limits": dict(self.limits), "urls": {"contentMetadataLookup": f"{self.base_url}metadata"}}, {}

    def _page(self, items: list, query: dict, size: int, key: str, loc) -> tuple[int, dict, dict]:
        try:
            index = int(query.get("pageIndex", 0) or 0)
        except ValueError:
            return 400, {"errorNumber": 9602, "errorMessage": "pageIndex must be an integer"}, {}
        chunk = items[index * size:(index + 1) * size]
        out = {key: chunk, "currentPageIndex": index, "size": len(chunk), "totalPages": max(1, -(-len(items) // size)),
               "versionId": loc.version_id}
        if (index + 1) * size < len(items):
            out["nextPageIndex"] = index + 1
        return 200, out, {}

    def _assets(self, loc, query, body):
        keys = [k for k in loc.assets if (not query.get("adamId") or k[0] == query["adamId"])
                and (not query.get("pricingParam") or k[1] == query["pricingParam"])]
        assigned = loc.assigned_counts()
        return self._page([loc.asset_json(k, assigned) for k in keys], query, self.assets_page_size, "assets", loc)

    def _assignments(self, loc, query, body):
        items = [{"adamId": a, "pricingParam": p, "serialNumber": s} for a, p, s in loc.assignments
                 if (not query.get("adamId") or a == query["adamId"])
                 and (not query.get("serialNumber") or s == query["serialNumber"])]
        return self._page(items, query, self.assignments_page_size, "assignments", loc)

    def _associate(self, kind):
        def answer(self, loc, query, body):
            assets = body.get("assets") if isinstance(body, dict) else None
            serials = body.get("serialNumbers") if isinstance(body, dict) else None
            if not assets or not serials:
                return 400, {"errorNumber": 9632, "errorMessage": "assets and serialNumbers are required"}, {}
            if len(assets) > self.limits["maxAssets"] or len(serials) > self.limits["maxSerialNumbers"]:
                return 400, {"errorNumber": 9718, "errorMessage": "too many assets or serial numbers"}, {}
            event = FakeEvent(str(uuid.uuid4()), loc, kind, assets, serials)
            self.events[event.id] = event
            if self.auto_complete:
                threading.Timer(0.01, self.complete, (event.id,)).start()
            return 200, {"eventId": event.id, "tokenExpirationDate": loc.expires.strftime("%Y-%m-%dT%H:%M:%S+0000"),
                         "uId": loc.uid}, {}
        return answer

    def _status(self, loc, query, body):
        event = self.events.get(query.get("eventId", ""))
        if event is None or event.location is not loc:
            return 400, {"errorNumber": 9700, "errorMessage": "unknown eventId"}, {}
        n = len(event.assets) * len(event.serials)
        return 200, {"eventStatus": event.status, "eventType": event.kind, "numRequested": n,
                     "numCompleted": n if event.status == "COMPLETE" else 0, "failures": event.failures}, {}


_ROUTES = {
    ("GET", "client/config"): FakeAppsBooks._client_config,
    ("POST", "client/config"): FakeAppsBooks._claim,
    ("GET", "service/config"): FakeAppsBooks._service_config,
    ("GET", "assets"): FakeAppsBooks._assets,
    ("GET", "assignments"): FakeAppsBooks._assignments,
    ("POST", "assets/associate"): FakeAppsBooks._associate(None, "ASSOCIATE"),
    ("POST", "assets/disassociate"): FakeAppsBooks._associate(None, "DISASSOCIATE"),
    ("GET", "status"): FakeAppsBooks._status,
}


class _Handler(BaseHTTPRequestHandler):
    service: FakeAppsBooks
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        if not url.path.startswith("/mdm/v2/"):
            self._send(404, {"errorNumber": 9600, "errorMessage": "not found"}, {})
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._send(400, {"errorNumber": 9601, "errorMessage": "malformed JSON"}, {})
            return
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        status, data, headers = self.service.answer(method, url.path[len("/mdm/v2/"):], query,
                                                    self.headers.get("Authorization"), body)
        self._send(status, data, headers)

    def _send(self, status: int, data: dict, headers: dict) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")


def _server_identity(directory: Path, host: str) -> str:
    """A CA of the fake's own (ca.pem, what clients trust) and a server certificate it signed."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake Apps and Books CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vpp.fake.test")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    identity = directory / "server-identity.pem"
    identity.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(identity)
