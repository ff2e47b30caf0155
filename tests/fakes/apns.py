"""A fake APNs: HTTP/2 over mutual TLS on 127.0.0.1, checking MDM pushes like Apple does.

    with FakeAPNs(ca_file=ca_pem_path) as fake:
        client = APNsClient(..., host=fake.host, port=fake.port, verify=fake.server_ca_file)
        fake.fail(token_hex, 410, "Unregistered")

It runs its own event loop in a background thread, requires a client
certificate issued by `ca_file`, takes the topic from that certificate's UID,
and records every request it answers in `fake.pushes`.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import ipaddress
import itertools
import json
import re
import ssl
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import h11
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_PATH = re.compile(r"/3/device/([0-9a-fA-F]+)")


@dataclass
class RecordedPush:
    token_hex: str
    topic: str | None
    headers: dict[str, str]
    body: bytes
    connection_id: int
    status: int  # 0 when the stream was reset instead of answered
    reason: str | None


@dataclass
class FakeConnection:
    id: int
    client_topic: str | None  # UID of the client certificate
    http_version: str


@dataclass
class _Failure:
    status: int
    reason: str | None
    times: int | None  # None: every time
    timestamp_ms: int | None = None


@dataclass
class FakeAPNs:
    ca_file: str | Path
    max_concurrent_streams: int = 1000
    on_push: Callable[[str, str], None] | None = None
    response_delay: float = 0.0  # seconds before answering each stream, to make streams overlap
    http1_only: bool = False  # offer only http/1.1 in ALPN: a server that "downgraded"
    host: str = "127.0.0.1"
    port: int = 0
    pushes: list[RecordedPush] = field(default_factory=list)
    connections: list[FakeConnection] = field(default_factory=list)
    max_in_flight: int = 0  # most streams awaiting an answer at once, over all connections

    # -- test-facing API --------------------------------------------------

    def fail(self, token_hex: str, status: int, reason: str | None = None, *,
             times: int | None = None, timestamp_ms: int | None = None) -> None:
        """Answer `status` + `{"reason": ...}` for this token (`times` times, or always)."""
        if status == 410 and timestamp_ms is None:
            timestamp_ms = int(time.time() * 1000)
        self._failures[token_hex.lower()] = _Failure(status, reason, times, timestamp_ms)

    def reset(self, token_hex: str, times: int | None = 1) -> None:
        """Reset the stream (RST_STREAM) instead of answering: a transport failure."""
        self._failures[token_hex.lower()] = _Failure(0, None, times)

    def wait_for_pushes(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.pushes) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.pushes)} pushes, expected {count}")
            time.sleep(0.01)

    @property
    def server_ca_file(self) -> str:
        return str(self._dir / "server.pem")

    # -- lifecycle --------------------------------------------------------

    def __post_init__(self) -> None:
        self._failures: dict[str, _Failure] = {}
        self._ids = itertools.count(1)
        self._in_flight = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._callbacks = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="fake-apns-cb")

    def __enter__(self) -> FakeAPNs:
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-apns-")
        self._dir = Path(self._tmp.name)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(_self_signed(self._dir, self.host))
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(self.ca_file))
        context.set_alpn_protocols(["http/1.1"] if self.http1_only else ["h2"])
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-apns", daemon=True)
        self._thread.start()
        start = asyncio.start_server(self._serve, self.host, self.port, ssl=context)
        self._server = asyncio.run_coroutine_threadsafe(start, self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc_info) -> None:
        async def shutdown() -> None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._callbacks.shutdown(wait=True)
        self._tmp.cleanup()

    # -- the server -------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ssl_object = writer.get_extra_info("ssl_object")
        peer = x509.load_der_x509_certificate(ssl_object.getpeercert(binary_form=True))
        uids = peer.subject.get_attributes_for_oid(NameOID.USER_ID)
        info = FakeConnection(next(self._ids), str(uids[0].value) if uids else None,
                              "HTTP/2" if ssl_object.selected_alpn_protocol() == "h2" else "HTTP/1.1")
        self.connections.append(info)
        self._writers.add(writer)
        try:
            await (self._serve_http1 if self.http1_only else self._serve_h2)(reader, writer, info)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _serve_h2(self, reader, writer, info: FakeConnection) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False,
                                                                    header_encoding="utf-8"))
        conn.local_settings = h2.settings.Settings(client=False, initial_values={
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.max_concurrent_streams})
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        while data := await reader.read(65536):
            try:
                events = conn.receive_data(data)
            except h2.exceptions.ProtocolError:
                writer.write(conn.data_to_send())
                return
            for event in events:
                if isinstance(event, h2.events.RequestReceived):
                    streams[event.stream_id] = (dict(event.headers), bytearray())
                    self._in_flight += 1
                    self.max_in_flight = max(self.max_in_flight, self._in_flight)
                elif isinstance(event, h2.events.DataReceived):
                    streams[event.stream_id][1].extend(event.data)
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    headers, body = streams.pop(event.stream_id)
                    asyncio.ensure_future(self._answer_h2(conn, writer, event.stream_id, headers,
                                                          bytes(body), info))
                elif isinstance(event, h2.events.StreamReset) and event.stream_id in streams:
                    streams.pop(event.stream_id)
                    self._in_flight -= 1
                elif isinstance(event, h2.events.ConnectionTerminated):
                    writer.write(conn.data_to_send())
                    return
            writer.write(conn.data_to_send())

    async def _answer_h2(self, conn, writer, stream_id: int, headers: dict[str, str], body: bytes,
                         info: FakeConnection) -> None:
        if self.response_delay:
            await asyncio.sleep(self.response_delay)
        status, reason, payload, token, magic = self._decide(headers, body, info)
        try:
            if status == 0:
                conn.reset_stream(stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
            else:
                apns_id = headers.get("apns-id") or str(uuid.uuid4()).upper()
                response = [(":status", str(status)), ("apns-id", apns_id)]
                if payload:
                    response += [("content-type", "application/json"),
                                 ("content-length", str(len(payload)))]
                conn.send_headers(stream_id, response, end_stream=not payload)
                if payload:
                    conn.send_data(stream_id, payload, end_stream=True)
            writer.write(conn.data_to_send())
        except h2.exceptions.StreamClosedError:
            pass  # the client gave up on this stream
        finally:
            self._in_flight -= 1
        if status == 200 and self.on_push:
            self._callbacks.submit(self.on_push, token, magic)

    async def _serve_http1(self, reader, writer, info: FakeConnection) -> None:
        conn, headers, body = h11.Connection(h11.SERVER), {}, bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Request):
                headers = {k.decode(): v.decode() for k, v in event.headers}
                headers.update({":method": event.method.decode(), ":path": event.target.decode()})
            elif isinstance(event, h11.Data):
                body.extend(event.data)
            elif isinstance(event, h11.EndOfMessage):
                status, _, payload, _, _ = self._decide(headers, bytes(body), info)
                response = h11.Response(status_code=status or 500,
                                        headers=[("content-length", str(len(payload)))])
                writer.write(conn.send(response) + conn.send(h11.Data(data=payload))
                             + conn.send(h11.EndOfMessage()))
                conn.start_next_cycle()
                headers, body = {}, bytearray()
            else:
                return

    def _decide(self, headers: dict[str, str], body: bytes, info: FakeConnection):
        """(status, reason, JSON payload, token, push magic) for one request; records it."""
        match = _PATH.fullmatch(headers.get(":path", ""))
        token = match.group(1).lower() if match else ""
        magic = None
        try:
            payload = json.loads(body)
            if isinstance(payload, dict) and list(payload) == ["mdm"] and isinstance(payload["mdm"], str):
                magic = payload["mdm"]
        except ValueError:
            pass
        expiration = headers.get("apns-expiration", "")
        status, reason, timestamp = 200, None, None
        if headers.get(":method") != "POST":
            status, reason = 405, "MethodNotAllowed"
        elif not match:
            status, reason = 404, "BadPath"
        elif headers.get("apns-push-type") != "mdm":
            status, reason = 400, "InvalidPushType"
        elif "apns-topic" not in headers:
            status, reason = 400, "MissingTopic"
        elif headers["apns-topic"] != info.client_topic:
            status, reason = 400, "TopicDisallowed"
        elif headers.get("apns-priority") not in ("5", "10"):
            status, reason = 400, "BadPriority"
        elif not expiration.isdigit():
            status, reason = 400, "BadExpirationDate"
        elif not body:
            status, reason = 400, "PayloadEmpty"
        elif magic is None:
            status, reason = 400, "BadPayload"  # not an APNs reason: the fake's own complaint
        elif (failure := self._failures.get(token)) is not None:
            status, reason, timestamp = failure.status, failure.reason, failure.timestamp_ms
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    del self._failures[token]
        self.pushes.append(RecordedPush(token, headers.get("apns-topic"), headers, body, info.id,
                                        status, reason))
        error: dict[str, object] = {"reason": reason} if status not in (0, 200) else {}
        if error and timestamp is not None:
            error["timestamp"] = timestamp
        return status, reason, json.dumps(error).encode() if error else b"", token, magic


def _self_signed(directory: Path, host: str) -> str:
    """The fake's server certificate + key in one PEM; the certificate alone is server.pem."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-apns")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (directory / "server.pem").write_bytes(cert_pem)
    identity = directory / "server-identity.pem"
    identity.write_bytes(cert_pem + key.private_bytes(serialization.Encoding.PEM,
                                                      serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
    return str(identity)
