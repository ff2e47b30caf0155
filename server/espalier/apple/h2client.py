"""A lean HTTP/2 client connection for many small requests of one shape (APNs pushes).

Built on `h2` over `asyncio.open_connection(ssl=...)` with ALPN `h2`. What it does
per request is kept small, because at thousands of requests per second h2's own
bookkeeping is most of the cost:

- the header block is HPACK-encoded from a `RequestTemplate`: the fixed headers are
  encoded once and, after the first request, sent as references to the peer's
  dynamic table; each request adds its path and varying headers as plain literals
  (no Huffman, no table search, nothing ever evicted);
- requests made in one event-loop tick go out in one `writer.write`;
- h2 counts open streams by scanning every stream it holds (O(streams) per new
  stream); `_H2` returns the connection's own count and lets h2 scan (and forget
  closed streams) only when its stream table has doubled.

In-flight streams stay within the peer's SETTINGS_MAX_CONCURRENT_STREAMS, and a new
connection carries one request alone before it opens up (APNs starts at 1 and raises
the limit after the first request). A connection that dies (GOAWAY, EOF, protocol
error, `timeout` of silence) fails its streams with `ConnectionLost` and is never
reused; a request unanswered for `timeout` fails alone with `Timeout`.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import ssl

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
from hpack.table import HeaderTable

log = logging.getLogger(__name__)

_READ_SIZE = 256 * 1024
_CLOSE_WAIT = 0.1  # seconds close() waits for the TLS shutdown before dropping the socket
_RECEIVE_WINDOW = 16 * 1024 * 1024  # responses are small; never make the peer wait for credit
_STATIC: dict[tuple[bytes, bytes], int] = {}
_STATIC_NAMES: dict[bytes, int] = {}
for _index, (_name, _value) in enumerate(HeaderTable.STATIC_TABLE, 1):
    _STATIC.setdefault((_name, _value), _index)
    _STATIC_NAMES.setdefault(_name, _index)


class H2Error(Exception):
    """A request got no answer (the peer may or may not have seen it): safe to retry."""


class ConnectError(H2Error):
    """TCP connect or TLS handshake failed."""


class ConnectionLost(H2Error):
    """The connection died (GOAWAY, EOF, protocol error, no answer) before the response."""


class Timeout(H2Error):
    """No answer within the timeout (the stream was cancelled)."""


class StreamReset(H2Error):
    """The peer reset the stream (RST_STREAM) instead of answering."""


class NotHTTP2(Exception):
    """ALPN did not select h2: the peer would speak HTTP/1.1 (or nothing we know)."""

    def __init__(self, selected: str | None) -> None:
        super().__init__(f"ALPN selected {selected or 'no protocol'}, not h2")
        self.selected = selected


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


def _integer(value: int, prefix_bits: int, first: int) -> bytes:
    """HPACK integer (RFC 7541 5.1) with the pattern bits `first` in the first octet."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out, value = bytearray((first | limit,)), value - limit
    while value >= 128:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string(data: bytes) -> bytes:
    return _integer(len(data), 7, 0x00) + data  # RFC 7541 5.2, without Huffman


def _literal_name(name: bytes) -> bytes:
    """The start of a literal field without indexing (RFC 7541 6.2.2): the name."""
    index = _STATIC_NAMES.get(name)
    return _integer(index, 4, 0x00) if index else b"\x00" + _string(name)


def encode_header(name: bytes, value: bytes) -> bytes:
    """One header field that leaves the dynamic table alone (RFC 7541 6.1, 6.2.2)."""
    if (index := _STATIC.get((name, value))) is not None:
        return _integer(index, 7, 0x80)
    return _literal_name(name) + _string(value)


def _insert_header(name: bytes, value: bytes) -> bytes:
    """One header field added to the dynamic table (RFC 7541 6.2.1)."""
    index = _STATIC_NAMES.get(name)
    return (_integer(index, 6, 0x40) if index else b"\x40" + _string(name)) + _string(value)


class RequestTemplate:
    """A request shape: method, scheme, authority and fixed headers, HPACK-encoded once.

    Each request supplies its `:path` and the headers that vary, in that order:
    `[(b":path", path), (name, value), ...]`. The fixed headers go into the peer's
    dynamic table with the first request and are one-byte references after that;
    the rest are literals without indexing.
    """

    def __init__(self, method: str, authority: str, headers: list[tuple[str, str]],
                 scheme: str = "https") -> None:
        head = [(b":method", method.encode()), (b":scheme", scheme.encode()),
                (b":authority", authority.encode())]
        tail = [(n.lower().encode(), v.encode()) for n, v in headers]
        stored = [h for h in head + tail if h not in _STATIC]
        self.table_size = sum(32 + len(n) + len(v) for n, v in stored)  # RFC 7541 4.1
        # After the inserts, the newest entry has index 62 (RFC 7541 2.3.3).
        index = {h: 61 + len(stored) - i for i, h in enumerate(stored)}

        def block(fields: list[tuple[bytes, bytes]], field) -> bytes:
            return b"".join(field(*h) if h in index else encode_header(*h) for h in fields)

        def refer(name: bytes, value: bytes) -> bytes:
            return _integer(index[(name, value)], 7, 0x80)

        self.literal = (block(head, encode_header), block(tail, encode_header))
        self.inserting = (block(head, _insert_header), block(tail, _insert_header))
        self.indexed = (block(head, refer), block(tail, refer))


class _TemplateEncoder:
    """Stands in for h2's HPACK encoder for one connection's requests.

    The first header block sizes the dynamic table to hold exactly the template's
    fixed headers and inserts them (after clearing the table); later blocks refer to
    them. When the peer's SETTINGS_HEADER_TABLE_SIZE changes, the next block starts
    over the same way, or without the dynamic table if the template does not fit.
    """

    def __init__(self, template: RequestTemplate) -> None:
        self.template = template
        self._limit = 4096  # the peer's SETTINGS_HEADER_TABLE_SIZE (RFC 9113 default)
        self._restart = True
        self._blocks = template.literal
        self._names: dict[bytes, bytes] = {b":path": _literal_name(b":path")}

    @property
    def header_table_size(self) -> int:
        return self._limit

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:
        self._limit, self._restart = value, True  # h2 sets it from the peer's SETTINGS

    def encode(self, headers, huffman: bool = True) -> bytes:
        names, fields = self._names, []
        for name, value in headers:  # :path first, then the varying headers
            if (start := names.get(name)) is None:
                start = names[name] = _literal_name(name)
            fields.append(start + _string(value))
        path, varying = fields[0], b"".join(fields[1:])
        if self._restart:
            self._restart = False
            template = self.template
            if template.table_size <= self._limit:
                self._blocks = template.indexed
                head, tail = template.inserting
                size = b"\x20" + _integer(template.table_size, 5, 0x20)  # clear, then resize
            else:
                self._blocks = template.literal
                head, tail = template.literal
                size = b"\x20"
            return b"".join((size, head, path, tail, varying))
        head, tail = self._blocks
        return b"".join((head, path, tail, varying))


class _H2(h2.connection.H2Connection):
    """h2's connection with an O(1) count of open outbound streams (see the module doc)."""

    # How many closed streams h2 remembers (to answer late frames on them gracefully):
    # 65,536 by default, about 6 MB that builds up over the first 65,536 pushes.
    MAX_CLOSED_STREAMS = 4096

    def __init__(self, config: h2.config.H2Configuration, active: dict) -> None:
        super().__init__(config)
        self.active = active
        self._scan_at = 256

    @property
    def open_outbound_streams(self) -> int:
        if len(self.streams) >= self._scan_at:
            self._open_streams(1)  # h2's scan: counts, and forgets closed streams
            self._scan_at = max(256, 2 * len(self.streams))
        return len(self.active)


class _Stream:
    __slots__ = ("future", "deadline", "status", "headers", "body", "unsent")

    def __init__(self, future: asyncio.Future, deadline: float) -> None:
        self.future, self.deadline = future, deadline
        self.status, self.headers, self.body, self.unsent = 0, [], b"", b""


class _Slots:
    """A semaphore whose size follows the peer's SETTINGS_MAX_CONCURRENT_STREAMS."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0
        self._waiters: collections.deque[asyncio.Future] = collections.deque()

    async def acquire(self) -> None:
        if self.used < self.limit and not self._waiters:
            self.used += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # release() or resize() hands the slot over
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release()  # handed a slot but cancelled before using it
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        self.used -= 1
        self._wake()

    def resize(self, limit: int) -> None:
        self.limit = limit
        self._wake()

    def fail(self, error: Exception) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    def _wake(self) -> None:
        while self._waiters and self.used < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.used += 1
                waiter.set_result(None)


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close, giving the TLS shutdown a moment: the peer's close_notify may never come."""
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), _CLOSE_WAIT)
    except (OSError, asyncio.TimeoutError):
        writer.transport.abort()
        await asyncio.sleep(0)  # the socket closes on the next loop iteration


def _status(headers: list[tuple[bytes, bytes]]) -> int:
    """The response's :status (0 if missing or not a number: the caller sees a bad answer)."""
    name, value = headers[0] if headers else (b"", b"")
    if name != b":status":
        value = next((v for n, v in headers if n == b":status"), b"")
    return int(value) if value.isdigit() else 0


class Connection:
    """One HTTP/2 connection; `request()` from the event loop that opened it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 template: RequestTemplate, timeout: float) -> None:
        self._reader, self._writer, self.timeout = reader, writer, timeout
        self._loop = asyncio.get_running_loop()
        self._streams: dict[int, _Stream] = {}
        self._blocked: dict[int, None] = {}  # streams waiting for flow-control credit
        # Outbound headers come from a template; inbound, only :status is read (`_status`).
        self._h2 = _H2(h2.config.H2Configuration(
            client_side=True, header_encoding=None, validate_outbound_headers=False,
            normalize_outbound_headers=False, validate_inbound_headers=False,
            normalize_inbound_headers=False), self._streams)
        self._h2.encoder = _TemplateEncoder(template)
        self._slots = _Slots(1)  # one request alone until the first answer
        self.warm = False  # carried a request: the peer's stream limit applies from now on
        self._flush_handle: asyncio.Handle | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.error: H2Error | None = None  # set once the connection is unusable
        self._pong: asyncio.Future | None = None
        self.last_received = self._loop.time()
        self._h2.initiate_connection()
        self._h2.increment_flow_control_window(_RECEIVE_WINDOW - 65535)
        writer.write(self._h2.data_to_send())
        self._reader_task = self._loop.create_task(self._read_loop())

    @classmethod
    async def open(cls, host: str, port: int, context: ssl.SSLContext, template: RequestTemplate,
                   timeout: float) -> Connection:
        """Connect, check that ALPN chose h2 (else `NotHTTP2`), send the preface."""
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                host, port, ssl=context, server_hostname=host, limit=_READ_SIZE), timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise ConnectError(f"{host}:{port}: {exc or type(exc).__name__}") from None
        selected = writer.get_extra_info("ssl_object").selected_alpn_protocol()
        if selected != "h2":
            await _close(writer)
            raise NotHTTP2(selected)
        return cls(reader, writer, template, timeout)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def idle_for(self) -> float:
        """Seconds since the server last sent anything."""
        return self._loop.time() - self.last_received

    @property
    def max_streams(self) -> int:
        """The peer's SETTINGS_MAX_CONCURRENT_STREAMS as of now."""
        return self._h2.remote_settings.max_concurrent_streams

    async def request(self, headers: list[tuple[bytes, bytes]], body: bytes) -> Response:
        """Send one request and await its response.

        `headers` are what the template leaves open: `[(b":path", path), (name, value), ...]`.
        """
        if self.error:
            raise self.error
        await self._slots.acquire()
        if self.error:
            self._slots.release()
            raise self.error
        h2conn = self._h2
        try:
            stream_id = h2conn.get_next_available_stream_id()
        except h2.exceptions.NoAvailableStreamIDError:
            self._slots.release()
            self._die(ConnectionLost("stream ids exhausted"))
            raise self.error from None
        stream = _Stream(self._loop.create_future(), self._loop.time() + self.timeout)
        try:
            h2conn.send_headers(stream_id, headers, end_stream=not body)
        except h2.exceptions.ProtocolError as exc:
            self._slots.release()
            self._die(ConnectionLost(f"HTTP/2 protocol error: {exc}"))
            raise self.error from None
        self._streams[stream_id] = stream  # after send_headers: h2 counts it as about to open
        if body:
            self._send_body(stream_id, stream, body)
        if self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush)
        if self._timer is None:
            self._timer = self._loop.call_at(stream.deadline, self._check_deadlines)
        return await stream.future

    async def ping(self) -> None:
        """One PING round trip within `timeout`; a silent connection dies (ConnectionLost)."""
        if self.error:
            raise self.error
        waiter = self._pong = self._loop.create_future()
        self._h2.ping(b"espalier")
        self._flush()
        try:
            await asyncio.wait_for(waiter, self.timeout)
        except asyncio.TimeoutError:
            self._die(ConnectionLost(f"no PING answer in {self.timeout:g}s"))
            raise self.error from None

    async def close(self) -> None:
        """GOAWAY, then close the socket; unanswered requests fail with ConnectionLost."""
        if self.error is None:
            try:
                self._h2.close_connection()
                self._flush()
            except h2.exceptions.ProtocolError:
                pass
        self._die(ConnectionLost("connection closed by the client"))
        self._reader_task.cancel()
        await _close(self._writer)

    # -- internals -----------------------------------------------------------

    def _send_body(self, stream_id: int, stream: _Stream, body: bytes) -> None:
        h2conn = self._h2
        while body:
            room = min(h2conn.local_flow_control_window(stream_id), h2conn.max_outbound_frame_size)
            if len(body) <= room:
                h2conn.send_data(stream_id, body, end_stream=True)
                body = b""
            elif room:
                h2conn.send_data(stream_id, body[:room])
                body = body[room:]
            else:
                self._blocked[stream_id] = None
                break
        stream.unsent = body

    def _unblock(self) -> None:
        for stream_id in list(self._blocked):
            stream = self._streams.get(stream_id)
            if stream is None:
                del self._blocked[stream_id]
                continue
            self._send_body(stream_id, stream, stream.unsent)
            if stream.unsent:
                return  # still no credit: keep the order
            del self._blocked[stream_id]

    def _flush(self) -> None:
        self._flush_handle = None
        if (data := self._h2.data_to_send()) and not self._writer.is_closing():
            self._writer.write(data)

    def _check_deadlines(self) -> None:
        """Requests unanswered for `timeout` fail; a connection silent that long is dead."""
        self._timer = None
        if self.error or not self._streams:
            return
        now = self._loop.time()
        if now - self.last_received >= self.timeout:
            self._die(ConnectionLost(f"no data from the server in {self.timeout:g}s"))
            return
        for stream_id, stream in list(self._streams.items()):  # oldest first
            if stream.deadline > now:
                self._timer = self._loop.call_at(stream.deadline, self._check_deadlines)
                break
            self._h2.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
            self._finish(stream_id, Timeout(f"no answer in {self.timeout:g}s"))
        self._flush()

    def _finish(self, stream_id: int, outcome: Response | H2Error) -> None:
        stream = self._streams.pop(stream_id, None)
        if stream is None:
            return
        self._blocked.pop(stream_id, None)
        self._slots.release()
        if not self.warm:
            self.warm = True
            self._slots.resize(self.max_streams)
        if not stream.future.done():
            if isinstance(outcome, Response):
                stream.future.set_result(outcome)
            else:
                stream.future.set_exception(outcome)

    def _die(self, error: H2Error) -> None:
        """No new requests; every unanswered one fails with `error`."""
        if self.error is None:
            self.error = error
        streams = list(self._streams)
        for stream_id in streams:
            self._finish(stream_id, self.error)
        self._slots.fail(self.error)
        self._writer.close()

    async def _read_loop(self) -> None:
        ResponseReceived, DataReceived = h2.events.ResponseReceived, h2.events.DataReceived
        StreamEnded, StreamResetEvent = h2.events.StreamEnded, h2.events.StreamReset
        h2conn, streams, reader = self._h2, self._streams, self._reader
        try:
            while data := await reader.read(_READ_SIZE):
                self.last_received = self._loop.time()
                try:
                    events = h2conn.receive_data(data)
                except h2.exceptions.ProtocolError as exc:
                    self._flush()  # h2 queued a GOAWAY
                    self._die(ConnectionLost(f"HTTP/2 protocol error: {exc}"))
                    return
                for event in events:
                    kind = type(event)
                    if kind is ResponseReceived:
                        if (stream := streams.get(event.stream_id)) is not None:
                            stream.headers = event.headers
                            stream.status = _status(event.headers)
                    elif kind is StreamEnded:
                        if (stream := streams.get(event.stream_id)) is not None:
                            self._finish(event.stream_id, Response(
                                stream.status, stream.headers, stream.body) if stream.status
                                else H2Error("response without a valid :status"))
                    elif kind is DataReceived:
                        if (stream := streams.get(event.stream_id)) is not None:
                            stream.body += event.data
                        h2conn.acknowledge_received_data(event.flow_controlled_length,
                                                         event.stream_id)
                    elif kind is StreamResetEvent:
                        self._finish(event.stream_id, StreamReset(
                            f"stream reset by the server: {event.error_code!r}"))
                    else:
                        self._other_event(event)
                if self.error:
                    return
                self._flush()
            self._die(ConnectionLost("connection closed by the server"))
        except (OSError, ssl.SSLError) as exc:
            self._die(ConnectionLost(f"{type(exc).__name__}: {exc}"))
        except Exception as exc:  # a bug here must not leave requests waiting for the timeout
            log.exception("HTTP/2 connection reader failed")
            self._die(ConnectionLost(f"reader failed: {type(exc).__name__}: {exc}"))

    def _other_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.WindowUpdated):
            if self._blocked:
                self._unblock()
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            if self.warm and h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS in event.changed_settings:
                self._slots.resize(self.max_streams)
            if self._blocked:  # INITIAL_WINDOW_SIZE may have grown
                self._unblock()
        elif isinstance(event, h2.events.PingAckReceived):
            if self._pong is not None and not self._pong.done():
                self._pong.set_result(None)
        elif isinstance(event, h2.events.ConnectionTerminated):
            detail = f" {event.additional_data.decode(errors='replace')}" if event.additional_data else ""
            # h2 accepts no frame after GOAWAY, so even streams below last_stream_id are lost.
            self._die(ConnectionLost(f"GOAWAY {event.error_code!r}{detail}"))
