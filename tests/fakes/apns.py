"""A fake APNs: HTTP/2 over mutual TLS on 127.0.0.1, checking MDM pushes like Apple does.

    with FakeAPNs(ca_file=ca_pem_path) as fake:
        client = APNsClient(..., host=fake.host, port=fake.port, verify=fake.server_ca_file)
        fake.fail(token_hex, 410, "Unregistered")

It runs its own event loop in a background thread, requires a client
certificate issued by `ca_file`, takes the topic from that certificate's UID,
and records every request it answers in `fake.pushes`. Like APNs, a new
connection allows one stream until its first request is answered.

For benchmarks, `FakeAPNs.run_in_process(ca_file=...)` runs it in a process of
its own (a core of its own), yielding a `RemoteFakeAPNs` with host, port,
server_ca_file and stats().

The hot path is kept cheap so the fake keeps up with a fast client: answers are
made inline (no task per stream), one write per 16 KiB of requests (a long read
is fed to h2 in parts, so client and fake work at once); responses are HPACK
literals without Huffman or indexing; open streams are counted per connection,
not by h2's scan of every stream; flow-control credit is returned once per part;
and h2's generic header validation gives way to `_malformed`, a cheaper check of
the same rules (results cached per header field).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import functools
import ipaddress
import itertools
import json
import multiprocessing
import re
import ssl
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

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
_READ_SIZE = 256 * 1024
_SLICE = 16 * 1024  # h2 is fed (and answers written) in parts, so that client and fake overlap
_WINDOW = 16 * 1024 * 1024
_RESET, _GOAWAY, _EOF = 0, -1, -2  # failure "statuses" that are not HTTP answers
_NOT_ANSWERED = {_RESET: "RST_STREAM", _GOAWAY: "GOAWAY", _EOF: "EOF"}
_STATUS = {code: str(code) for code in (200, 400, 403, 404, 405, 410, 413, 429, 500, 503)}


@dataclass
class RecordedPush:
    token_hex: str
    topic: str | None
    headers: dict[str, str]
    body: bytes
    connection_id: int
    status: int  # 0 when not answered: reason RST_STREAM, GOAWAY or EOF
    reason: str | None


@dataclass
class FakeConnection:
    id: int
    client_topic: str | None  # UID of the client certificate
    http_version: str
    reads: int = 0  # socket reads: few when the client batches its writes


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
    first_request_streams: int | None = 1  # the limit until the first answer (APNs: 1); None: no warm-up
    on_push: Callable[[str, str], None] | None = None
    response_delay: float = 0.0  # seconds before answering each stream, to make streams overlap
    http1_only: bool = False  # offer only http/1.1 in ALPN: a server that "downgraded"
    host: str = "127.0.0.1"
    port: int = 0
    pushes: list[RecordedPush] = field(default_factory=list)
    connections: list[FakeConnection] = field(default_factory=list)
    # Most streams awaiting an answer at once, over all connections. Answers are immediate
    # unless response_delay is set, so without it this stays near 1.
    max_in_flight: int = 0

    # -- test-facing API --------------------------------------------------

    def fail(self, token_hex: str, status: int, reason: str | None = None, *,
             times: int | None = None, timestamp_ms: int | None = None) -> None:
        """Answer `status` + `{"reason": ...}` for this token (`times` times, or always)."""
        if status == 410 and timestamp_ms is None:
            timestamp_ms = int(time.time() * 1000)
        self._failures[token_hex.lower()] = _Failure(status, reason, times, timestamp_ms)

    def reset(self, token_hex: str, times: int | None = 1) -> None:
        """Reset the stream (RST_STREAM) instead of answering: a transport failure."""
        self._failures[token_hex.lower()] = _Failure(_RESET, None, times)

    def goaway(self, token_hex: str, times: int | None = 1) -> None:
        """Instead of answering, send GOAWAY (last stream: the one before) and close."""
        self._failures[token_hex.lower()] = _Failure(_GOAWAY, None, times)

    def drop(self, token_hex: str, times: int | None = 1) -> None:
        """Instead of answering, close the connection (the client reads EOF)."""
        self._failures[token_hex.lower()] = _Failure(_EOF, None, times)

    def stats(self) -> dict[str, object]:
        statuses: dict[int, int] = {}
        for push in self.pushes:
            statuses[push.status] = statuses.get(push.status, 0) + 1
        return {"pushes": len(self.pushes), "connections": len(self.connections),
                "max_in_flight": self.max_in_flight, "statuses": statuses,
                "cpu_seconds": time.process_time()}  # of the whole process the fake runs in

    @classmethod
    @contextlib.contextmanager
    def run_in_process(cls, **options) -> Iterator[RemoteFakeAPNs]:
        """The fake in a child process (spawned: a core of its own); options as for `cls`."""
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(target=_serve_in_process, args=(theirs, cls, options),
                                  name="fake-apns", daemon=True)
        process.start()
        try:
            deadline = time.monotonic() + 60
            while not ours.poll(0.1):
                if not process.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"the fake APNs process did not start ({process.exitcode})")
            host, port, server_ca_file = ours.recv()
            yield RemoteFakeAPNs(host, port, server_ca_file, ours, process)
        finally:
            if process.is_alive():
                with contextlib.suppress(OSError, EOFError):
                    ours.send("stop")
                    ours.poll(10) and ours.recv()
            process.join(10)
            if process.is_alive():
                process.terminate()
            ours.close()

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
        self._apns_ids = itertools.count(1)  # apns-id: a random UUID prefix and a counter
        self._apns_id_prefix = str(uuid.uuid4()).upper()[:24]
        self._in_flight = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._callbacks = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="fake-apns-cb")

    def __enter__(self) -> FakeAPNs:
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-apns-")
        self._dir = Path(self._tmp.name)
        context = mutual_tls(self._dir, self.host, self.ca_file, "http/1.1" if self.http1_only else "h2")
        self._loop, self._thread = loop_thread("fake-apns")
        start = asyncio.start_server(self._serve, self.host, self.port, ssl=context)
        self._server = asyncio.run_coroutine_threadsafe(start, self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc_info) -> None:
        async def shutdown() -> None:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            await asyncio.sleep(0)  # sockets close on the next iteration
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
        # h2's generic header checks are replaced by `_malformed`, which is cheaper
        conn = _ServerH2(h2.config.H2Configuration(
            client_side=False, header_encoding=None, validate_inbound_headers=False,
            normalize_inbound_headers=False, validate_outbound_headers=False,
            normalize_outbound_headers=False))
        conn.encoder = _LiteralEncoder()  # stateless, no Huffman: cheap for a unique apns-id each time
        first = self.first_request_streams
        conn.local_settings = h2.settings.Settings(client=False, initial_values={
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS:
                self.max_concurrent_streams if first is None else first})
        conn.initiate_connection()
        conn.increment_flow_control_window(_WINDOW - 65535)  # never make the client wait for credit
        writer.write(conn.data_to_send())
        streams: dict[int, tuple[list[tuple[bytes, bytes]], bytearray]] = {}
        answer = functools.partial(self._answer_h2, conn, writer, info)
        while data := await reader.read(_READ_SIZE):
            info.reads += 1
            for offset in range(0, len(data), _SLICE):  # a long read is answered in parts
                try:
                    events = conn.receive_data(data[offset:offset + _SLICE])
                except h2.exceptions.ProtocolError:
                    writer.write(conn.data_to_send())
                    return
                if self._on_events(conn, events, streams, answer) == "closed":
                    return
                writer.write(conn.data_to_send())  # all answers to this part in one write

    def _on_events(self, conn: _ServerH2, events: list[h2.events.Event], streams: dict,
                   answer: Callable) -> str | None:
        credit = 0  # flow-control credit is given back for the connection only, once per call:
        for event in events:  # a request body never comes near its stream's own window
            kind = type(event)
            if kind is h2.events.RequestReceived:
                streams[event.stream_id] = (event.headers, bytearray())
                conn.open_count += 1
                self._in_flight += 1
                if self._in_flight > self.max_in_flight:
                    self.max_in_flight = self._in_flight
            elif kind is h2.events.DataReceived:
                streams[event.stream_id][1].extend(event.data)
                credit += event.flow_controlled_length
            elif kind is h2.events.StreamEnded:
                headers, body = streams.pop(event.stream_id)
                if self.response_delay:
                    self._loop.call_later(self.response_delay, answer, event.stream_id, headers,
                                          bytes(body), True)
                elif answer(event.stream_id, headers, bytes(body)) == "closed":
                    return "closed"
            elif kind is h2.events.StreamReset and event.stream_id in streams:
                streams.pop(event.stream_id)
                conn.open_count -= 1
                self._in_flight -= 1
            elif kind is h2.events.ConnectionTerminated:
                return "closed"
        if credit:
            conn.increment_flow_control_window(credit)
        return None

    def _answer_h2(self, conn: _ServerH2, writer, info: FakeConnection, stream_id: int,
                   raw_headers: list[tuple[bytes, bytes]], body: bytes, flush: bool = False) -> str | None:
        headers = {name.decode(): value.decode() for name, value in raw_headers}
        status, reason, payload, token, magic = self._decide(headers, body, info,
                                                             _malformed(raw_headers))
        conn.open_count -= 1
        self._in_flight -= 1
        try:
            if status == _RESET:
                conn.reset_stream(stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
            elif status in (_GOAWAY, _EOF):
                if status == _GOAWAY:
                    conn.close_connection(h2.errors.ErrorCodes.NO_ERROR, b'{"reason":"Shutdown"}',
                                          last_stream_id=stream_id - 2 if stream_id > 2 else 0)
                    writer.write(conn.data_to_send())
                writer.close()
                return "closed"
            else:
                apns_id = headers.get("apns-id") or f"{self._apns_id_prefix}{next(self._apns_ids):012X}"
                response = [(":status", _STATUS.get(status) or str(status)), ("apns-id", apns_id)]
                if payload:
                    response += [("content-type", "application/json"),
                                 ("content-length", str(len(payload)))]
                conn.send_headers(stream_id, response, end_stream=not payload)
                if payload:
                    conn.send_data(stream_id, payload, end_stream=True)
                if not conn.answered:
                    conn.answered = True
                    if self.first_request_streams is not None:  # like APNs: open up after the first
                        conn.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS:
                                              self.max_concurrent_streams})
            if flush and not writer.is_closing():
                writer.write(conn.data_to_send())
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            pass  # the client gave up on this stream, or on the connection
        if status == 200 and self.on_push:
            self._callbacks.submit(self.on_push, token, magic)
        return None

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
                response = h11.Response(status_code=status if status > 0 else 500,
                                        headers=[("content-length", str(len(payload)))])
                writer.write(conn.send(response) + conn.send(h11.Data(data=payload))
                             + conn.send(h11.EndOfMessage()))
                conn.start_next_cycle()
                headers, body = {}, bytearray()
            else:
                return

    def _decide(self, headers: dict[str, str], body: bytes, info: FakeConnection,
                malformed: str | None = None):
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
        status, reason, timestamp = 200, None, None
        refusal = malformed and (400, malformed)  # the fake's own reason: h2 would reset the stream
        refusal = refusal or _refusal(headers, body, info, bool(match), magic)
        if refusal:
            status, reason = refusal
        elif (failure := self._failures.get(token)) is not None:
            status, reason, timestamp = failure.status, failure.reason, failure.timestamp_ms
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    del self._failures[token]
        self.pushes.append(RecordedPush(token, headers.get("apns-topic"), headers, body, info.id,
                                        max(status, 0), _NOT_ANSWERED.get(status, reason)))
        error: dict[str, object] = {"reason": reason} if status > 0 and status != 200 else {}
        if error and timestamp is not None:
            error["timestamp"] = timestamp
        return status, reason, json.dumps(error).encode() if error else b"", token, magic


def _refusal(headers: dict[str, str], body: bytes, info: FakeConnection, path_ok: bool,
             magic: str | None) -> tuple[int, str] | None:
    """What APNs answers a request it refuses, checked in APNs' order; None when it is fine."""
    rules = (
        (headers.get(":method") != "POST", 405, "MethodNotAllowed"),
        (not path_ok, 404, "BadPath"),
        (headers.get("apns-push-type") != "mdm", 400, "InvalidPushType"),
        ("apns-topic" not in headers, 400, "MissingTopic"),
        (headers.get("apns-topic") != info.client_topic, 400, "TopicDisallowed"),
        (headers.get("apns-priority") not in ("5", "10"), 400, "BadPriority"),
        (not headers.get("apns-expiration", "").isdigit(), 400, "BadExpirationDate"),
        (not body, 400, "PayloadEmpty"),
        (magic is None, 400, "BadPayload"),  # not an APNs reason: the fake's own complaint
    )
    return next(((status, reason) for refused, status, reason in rules if refused), None)


_REQUEST_PSEUDO = frozenset({b":method", b":scheme", b":authority", b":path"})
_CONNECTION_HEADERS = frozenset({b"connection", b"keep-alive", b"proxy-connection",
                                 b"transfer-encoding", b"upgrade", b"host"})
_BAD_NAME = re.compile(rb"[^!#$%&'*+\-.^_`|~0-9a-z]")  # RFC 9110 token, lowercase (RFC 9113 8.2.1)
_BAD_VALUE = re.compile(rb"[\x00\r\n]|^[ \t]|[ \t]$")


_WELL_FORMED: set[tuple[bytes, bytes]] = set()  # fields already checked (up to 4,096)


def _malformed(headers: list[tuple[bytes, bytes]]) -> str | None:
    """What makes a request header block malformed (RFC 9113 8.2, 8.3.1), or None."""
    pseudo: set[bytes] = set()
    regular = False
    for header in headers:
        name, value = header
        if name[:1] == b":":
            if regular or name in pseudo or name not in _REQUEST_PSEUDO:
                return f"MalformedHeaders: pseudo-header {name.decode()!r} misplaced or unknown"
            pseudo.add(name)
        else:
            regular = True
        if header in _WELL_FORMED:
            continue
        if not name or _BAD_NAME.search(name[1:] if name[:1] == b":" else name) \
                or name in _CONNECTION_HEADERS or (name == b"te" and value != b"trailers"):
            return f"MalformedHeaders: header {name!r}"
        if _BAD_VALUE.search(value):
            return f"MalformedHeaders: value of {name.decode(errors='replace')!r}"
        if len(_WELL_FORMED) < 4096:
            _WELL_FORMED.add((bytes(name), bytes(value)))
    if len(pseudo) < 4:
        return f"MalformedHeaders: missing {sorted(p.decode() for p in _REQUEST_PSEUDO - pseudo)}"
    return None


class _ServerH2(h2.connection.H2Connection):
    """h2 counts open streams by scanning every stream it holds, on each new stream; here the
    server keeps the count, and h2's scan (which also forgets closed streams) runs only when
    its stream table has doubled."""

    MAX_CLOSED_STREAMS = 4096  # h2's default, 65,536, builds up megabytes
    open_count = 0
    answered = False  # the first request was answered (the stream limit was raised)
    _scan_at = 256

    @property
    def open_inbound_streams(self) -> int:
        if len(self.streams) >= self._scan_at:
            self._open_streams(1)
            self._scan_at = max(256, 2 * len(self.streams))
        return self.open_count


class _LiteralEncoder:
    """HPACK for responses: literals without indexing or Huffman (RFC 7541 6.2.2), never the
    dynamic table, whose size it declares as 0 in its first block (and after any change)."""

    _NAMES = {b":status": 8, b"content-length": 28, b"content-type": 31}

    def __init__(self) -> None:
        self._size_update = True

    @property
    def header_table_size(self) -> int:
        return 0

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:
        self._size_update = True

    def encode(self, headers, huffman: bool = True) -> bytes:
        out = bytearray(b"\x20" if self._size_update else b"")
        self._size_update = False
        for name, value in headers:
            index = self._NAMES.get(name)
            if index is None:
                out += b"\x00" + _hpack_int(len(name), 7) + name
            else:
                out += _hpack_int(index, 4)
            out += _hpack_int(len(value), 7) + value
        return bytes(out)


def _hpack_int(value: int, bits: int) -> bytes:
    limit = (1 << bits) - 1
    if value < limit:
        return bytes((value,))
    out, value = bytearray((limit,)), value - limit
    while value >= 128:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


@dataclass
class RemoteFakeAPNs:
    """A FakeAPNs running in another process (see `FakeAPNs.run_in_process`)."""

    host: str
    port: int
    server_ca_file: str
    _pipe: object = field(repr=False)
    _process: object = field(repr=False)

    def stats(self) -> dict[str, object]:
        """pushes, connections, max_in_flight and a count of recorded statuses."""
        self._pipe.send("stats")
        return self._pipe.recv()


def _serve_in_process(pipe, kind: type, options: dict) -> None:
    with kind(**options) as fake:
        pipe.send((fake.host, fake.port, fake.server_ca_file))
        while True:
            try:
                command = pipe.recv()
            except EOFError:
                return
            pipe.send(fake.stats())
            if command == "stop":
                return


def mutual_tls(directory: Path, host: str, ca_file: str | Path, protocol: str) -> ssl.SSLContext:
    """A server context like APNs': its own certificate, and client certificates from `ca_file`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(_self_signed(directory, host))
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=str(ca_file))
    context.set_alpn_protocols([protocol])
    return context


def loop_thread(name: str) -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    """A new event loop, running in a daemon thread of its own."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=name, daemon=True)
    thread.start()
    return loop, thread


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
