"""A lean HTTP/2 client connection for many small requests of one shape (APNs pushes).

Our own framing (`h2frames`) and HPACK (`hpack_request`, `hpack_response`) on an asyncio
protocol over TLS with ALPN `h2`. What it does per request is kept small, because at
thousands of requests per second a general HTTP/2 stack's bookkeeping is most of the
cost (h2 and hpack took ~150 us of CPU per push, bench/push.py):

- the header block comes from a `RequestTemplate`: the fixed headers are references to
  the peer's dynamic table after the first request;
- a request is one HEADERS and one DATA frame appended to a buffer; what is made in one
  event-loop tick goes out in one write, along with the SETTINGS, PING and WINDOW_UPDATE
  answers due;
- inbound frames are parsed straight from the bytes TLS hands over, no events.

In-flight streams stay within the peer's SETTINGS_MAX_CONCURRENT_STREAMS, and a new
connection carries one request alone before it opens up (APNs starts at 1 and raises
the limit after the first request). Outbound DATA waits for flow-control credit; inbound
credit is returned before the peer runs short. A connection that dies (EOF, protocol
error, `timeout` of silence) fails its streams with `ConnectionLost` and is never reused;
after a GOAWAY it takes no new request, streams above the peer's last-stream-id fail at
once and the others may still be answered. A request unanswered for `timeout` fails
alone with `Timeout`.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
import struct

from espalier.apple import h2frames as f
from espalier.apple.h2slots import Slots
from espalier.apple.hpack_request import RequestTemplate, TemplateEncoder
from espalier.apple.hpack_response import DecodeError, ResponseDecoder

__all__ = ["ConnectError", "Connection", "ConnectionLost", "H2Error", "NotHTTP2", "RequestTemplate",
           "Response", "StreamReset", "Timeout"]
_TemplateEncoder = TemplateEncoder  # the name the HPACK test knows

log = logging.getLogger(__name__)

_CLOSE_WAIT = 0.1  # seconds close() waits for the TLS shutdown before dropping the socket
_RECEIVE_WINDOW = 16 * 1024 * 1024  # responses are small; never make the peer wait for credit
_STREAM_WINDOW = 1024 * 1024
_MAX_HEADER_BLOCK = 256 * 1024  # HEADERS + CONTINUATION beyond this: the peer is flooding us
_OUR_SETTINGS = {f.ENABLE_PUSH: 0, f.INITIAL_WINDOW_SIZE: _STREAM_WINDOW,
                 f.MAX_HEADER_LIST_SIZE: 64 * 1024}
_PING = b"espalier"


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


class _Stream:
    __slots__ = ("future", "deadline", "status", "headers", "body", "unsent", "window", "received")

    def __init__(self, future: asyncio.Future, deadline: float, window: int) -> None:
        self.future, self.deadline, self.window = future, deadline, window
        self.status, self.headers, self.body, self.unsent, self.received = 0, None, b"", b"", 0


def _status(headers: list[tuple[bytes, bytes]]) -> int:
    """The response's :status (0 if missing or not a number: the caller sees a bad answer)."""
    name, value = headers[0] if headers else (b"", b"")
    if name != b":status":
        value = next((v for n, v in headers if n == b":status"), b"")
    return int(value) if value.isdigit() else 0


class Connection(asyncio.Protocol):
    """One HTTP/2 connection; `request()` from the event loop that opened it."""

    def __init__(self, template: RequestTemplate, timeout: float) -> None:
        self.timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._closing = False  # the transport was told to close: nothing more is read or sent
        self._encoder = TemplateEncoder(template)
        self._decoder = ResponseDecoder(max_list_size=_OUR_SETTINGS[f.MAX_HEADER_LIST_SIZE])
        self._streams: dict[int, _Stream] = {}  # in order of opening, so of deadline
        self._blocked: dict[int, None] = {}  # streams waiting for flow-control credit
        self._next_id = 1
        self._out: list[bytes] = []
        self._inbox = b""  # the start of a frame not yet complete
        self._header_block: tuple[int, int, list[bytes]] | None = None  # awaiting CONTINUATION
        self._max_streams = f.UNLIMITED_STREAMS
        self._max_frame = f.DEFAULT_FRAME_SIZE  # what the peer accepts
        self._stream_window = f.DEFAULT_WINDOW  # the peer's SETTINGS_INITIAL_WINDOW_SIZE
        self._send_window = f.DEFAULT_WINDOW  # the connection's outbound credit
        self._receive_window = _RECEIVE_WINDOW
        self._slots = Slots(1)  # one request alone until the first answer
        self.warm = False  # carried a request: the peer's stream limit applies from now on
        self._flush_handle: asyncio.Handle | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.error: H2Error | None = None  # set once the connection takes no new request
        self._pong: asyncio.Future | None = None
        self._lost = self._loop.create_future()
        self.last_received = self._loop.time()

    @classmethod
    async def open(cls, host: str, port: int, context: ssl.SSLContext, template: RequestTemplate,
                   timeout: float) -> Connection:
        """Connect, check that ALPN chose h2 (else `NotHTTP2`), send the preface."""
        loop = asyncio.get_running_loop()
        try:
            transport, conn = await asyncio.wait_for(loop.create_connection(
                lambda: cls(template, timeout), host, port, ssl=context, server_hostname=host), timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise ConnectError(f"{host}:{port}: {exc or type(exc).__name__}") from None
        selected = transport.get_extra_info("ssl_object").selected_alpn_protocol()
        if selected != "h2":
            conn._die(ConnectionLost("not HTTP/2"))
            await conn._closed()
            raise NotHTTP2(selected)
        return conn

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def idle_for(self) -> float:
        """Seconds since the server last sent anything."""
        return self._loop.time() - self.last_received

    @property
    def max_streams(self) -> int:
        """The peer's SETTINGS_MAX_CONCURRENT_STREAMS as of now."""
        return self._max_streams

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
        stream_id = self._next_id
        if stream_id > f.MAX_STREAM_ID:
            self._slots.release()
            self._die(ConnectionLost("stream ids exhausted"))
            raise self.error
        self._next_id += 2
        stream = _Stream(self._loop.create_future(), self._loop.time() + self.timeout,
                         self._stream_window)
        self._streams[stream_id] = stream
        self._send_headers(stream_id, self._encoder.encode(headers), not body)
        if body:
            size = len(body)
            if (not self._blocked and size <= self._send_window and size <= stream.window
                    and size <= self._max_frame):
                self._send_window -= size
                stream.window -= size
                self._out.append(f.HEADER.pack(size >> 16, size & 0xFFFF, f.DATA, f.END_STREAM, stream_id)
                                 + body)
            else:
                stream.unsent = body
                self._blocked[stream_id] = None
                self._unblock()
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
        self._out.append(f.frame(f.PING, 0, 0, _PING))
        self._flush()
        try:
            await asyncio.wait_for(waiter, self.timeout)
        except asyncio.TimeoutError:
            self._die(ConnectionLost(f"no PING answer in {self.timeout:g}s"))
            raise self.error from None

    async def close(self) -> None:
        """GOAWAY, then close the socket; unanswered requests fail with ConnectionLost."""
        if self.error is None:
            self._out.append(f.goaway(0, f.NO_ERROR))
            self._flush()
        self._die(ConnectionLost("connection closed by the client"))
        await self._closed()

    # -- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:
        """After the TLS handshake; the preface goes first, before any answer to the peer."""
        self._transport = transport
        if transport.get_extra_info("ssl_object").selected_alpn_protocol() == "h2":
            transport.write(f.PREFACE + f.settings(_OUR_SETTINGS)
                            + f.window_update(0, _RECEIVE_WINDOW - f.DEFAULT_WINDOW))

    def connection_lost(self, exc: Exception | None) -> None:
        self._die(ConnectionLost(f"{type(exc).__name__}: {exc}" if exc
                                 else "connection closed by the server"))
        if not self._lost.done():
            self._lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self.last_received = self._loop.time()
        if self._inbox:
            data = self._inbox + data
        try:
            self._inbox = data[self._frames(data):]
        except f.PeerError as exc:
            self._out.append(f.goaway(0, exc.code, str(exc).encode()[:200]))
            self._flush()
            self._die(ConnectionLost(f"HTTP/2 protocol error: {exc}"))
        except Exception as exc:  # a bug here must not leave requests waiting for the timeout
            log.exception("HTTP/2 connection reader failed")
            self._die(ConnectionLost(f"reader failed: {type(exc).__name__}: {exc}"))
        if self._out and self._flush_handle is None:
            # after the wake-ups of the answered requests: their successors share the write
            self._flush_handle = self._loop.call_soon(self._flush)

    # -- inbound frames ------------------------------------------------------

    def _frames(self, data: bytes) -> int:
        """Handle every complete frame in `data`; returns where the incomplete rest starts."""
        unpack, end, pos = f.HEADER.unpack_from, len(data), 0
        while end - pos >= 9 and not self._closing:
            high, low, kind, flags, stream_id = unpack(data, pos)
            size = high << 16 | low
            if size > f.DEFAULT_FRAME_SIZE:  # we never raise our SETTINGS_MAX_FRAME_SIZE
                raise f.PeerError(f.FRAME_SIZE_ERROR, f"frame of {size} bytes")
            stop = pos + 9 + size
            if stop > end:
                break
            payload, pos, stream_id = data[pos + 9:stop], stop, stream_id & f.MAX_STREAM_ID
            if self._header_block is not None and kind != f.CONTINUATION:
                raise f.PeerError(f.PROTOCOL_ERROR, "header block interrupted")
            if kind == f.HEADERS:
                self._on_headers(flags, stream_id, payload)
            elif kind == f.DATA:
                self._on_data(flags, stream_id, payload)
            elif (handler := self._HANDLERS.get(kind)) is not None:
                handler(self, flags, stream_id, payload)
            # other frame types are ignored (RFC 9113 4.1)
        return pos

    def _check_response_stream(self, stream_id: int, kind: str) -> None:
        if not stream_id & 1 or stream_id >= self._next_id:  # 0, server-initiated or idle
            raise f.PeerError(f.PROTOCOL_ERROR, f"{kind} on stream {stream_id}")

    def _on_headers(self, flags: int, stream_id: int, payload: bytes) -> None:
        self._check_response_stream(stream_id, "HEADERS")
        if flags & f.PADDED:
            payload = f.unpad(payload)
        if flags & f.PRIORITY_FLAG:
            if len(payload) < 5:
                raise f.PeerError(f.FRAME_SIZE_ERROR, "HEADERS too short for its priority")
            payload = payload[5:]
        if flags & f.END_HEADERS:
            self._on_header_block(stream_id, payload, flags & f.END_STREAM)
        else:
            self._header_block = (stream_id, flags & f.END_STREAM, [payload])

    def _on_continuation(self, flags: int, stream_id: int, payload: bytes) -> None:
        if self._header_block is None or self._header_block[0] != stream_id:
            raise f.PeerError(f.PROTOCOL_ERROR, f"CONTINUATION on stream {stream_id} out of place")
        parts = self._header_block[2]
        parts.append(payload)
        if sum(map(len, parts)) > _MAX_HEADER_BLOCK:
            raise f.PeerError(f.ENHANCE_YOUR_CALM, "header block too long")
        if flags & f.END_HEADERS:
            end_stream = self._header_block[1]
            self._header_block = None
            self._on_header_block(stream_id, b"".join(parts), end_stream)

    def _on_header_block(self, stream_id: int, block: bytes, end_stream: int) -> None:
        try:  # decoded even for a stream we gave up on: the dynamic table must stay in step
            headers = self._decoder.decode(block)
        except DecodeError as exc:
            raise f.PeerError(f.COMPRESSION_ERROR, f"header block: {exc}") from None
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        if stream.headers is None:  # the response's headers, unless informational (1xx)
            status = _status(headers)
            if 100 <= status < 200 and not end_stream:
                return
            stream.status, stream.headers = status, headers
        elif not end_stream:
            self._reset(stream_id, f.PROTOCOL_ERROR, H2Error("trailers without END_STREAM"))
            return
        if end_stream:
            self._complete(stream_id, stream)

    def _on_data(self, flags: int, stream_id: int, payload: bytes) -> None:
        self._check_response_stream(stream_id, "DATA")
        size = len(payload)  # padding included: it counts against flow control
        self._receive_window -= size
        if self._receive_window < 0:
            raise f.PeerError(f.FLOW_CONTROL_ERROR, "DATA beyond the connection window")
        if self._receive_window < _RECEIVE_WINDOW // 2:
            self._out.append(f.window_update(0, _RECEIVE_WINDOW - self._receive_window))
            self._receive_window = _RECEIVE_WINDOW
        if flags & f.PADDED:
            payload = f.unpad(payload)
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        if stream.headers is None:
            self._reset(stream_id, f.PROTOCOL_ERROR, H2Error("DATA before the response headers"))
            return
        stream.received += size
        if stream.received > _STREAM_WINDOW:
            self._reset(stream_id, f.FLOW_CONTROL_ERROR, H2Error("DATA beyond the stream window"))
            return
        stream.body += payload
        if flags & f.END_STREAM:
            self._complete(stream_id, stream)
        elif stream.received > _STREAM_WINDOW // 2:
            self._out.append(f.window_update(stream_id, stream.received))
            stream.received = 0

    def _on_rst_stream(self, flags: int, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise f.PeerError(f.FRAME_SIZE_ERROR, "RST_STREAM not 4 bytes")
        self._check_response_stream(stream_id, "RST_STREAM")
        code = int.from_bytes(payload, "big")
        self._finish(stream_id, StreamReset(f"stream reset by the server: {f.error_name(code)}"))

    def _on_settings(self, flags: int, stream_id: int, payload: bytes) -> None:
        if stream_id or len(payload) % 6 or (flags & f.ACK and payload):
            raise f.PeerError(f.FRAME_SIZE_ERROR if stream_id == 0 else f.PROTOCOL_ERROR,
                              "malformed SETTINGS")
        if flags & f.ACK:
            return
        for key, value in struct.iter_unpack(">HL", payload):
            if key == f.MAX_CONCURRENT_STREAMS:
                self._max_streams = value
                if self.warm:
                    self._slots.resize(value)
            elif key == f.INITIAL_WINDOW_SIZE:
                self._resize_stream_windows(value)
            elif key == f.HEADER_TABLE_SIZE:
                self._encoder.header_table_size = value
            elif key == f.MAX_FRAME_SIZE:
                if not f.DEFAULT_FRAME_SIZE <= value <= 2**24 - 1:
                    raise f.PeerError(f.PROTOCOL_ERROR, f"SETTINGS_MAX_FRAME_SIZE {value}")
                self._max_frame = value
            elif key == f.ENABLE_PUSH and value != 0:
                raise f.PeerError(f.PROTOCOL_ERROR, "SETTINGS_ENABLE_PUSH from a server")
        self._out.append(f.frame(f.SETTINGS, f.ACK, 0))
        if self._blocked:
            self._unblock()

    def _resize_stream_windows(self, value: int) -> None:
        """A new SETTINGS_INITIAL_WINDOW_SIZE moves every open stream's window (RFC 9113 6.9.2)."""
        if value > f.MAX_WINDOW:
            raise f.PeerError(f.FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE too large")
        delta, self._stream_window = value - self._stream_window, value
        for stream in self._streams.values():
            stream.window += delta
            if stream.window > f.MAX_WINDOW:
                raise f.PeerError(f.FLOW_CONTROL_ERROR, "stream window overflow")

    def _on_push_promise(self, flags: int, stream_id: int, payload: bytes) -> None:
        raise f.PeerError(f.PROTOCOL_ERROR, "PUSH_PROMISE with push disabled")

    def _on_ping(self, flags: int, stream_id: int, payload: bytes) -> None:
        if stream_id or len(payload) != 8:
            raise f.PeerError(f.PROTOCOL_ERROR if stream_id else f.FRAME_SIZE_ERROR, "malformed PING")
        if not flags & f.ACK:
            self._out.append(f.frame(f.PING, f.ACK, 0, payload))
        elif self._pong is not None and not self._pong.done():
            self._pong.set_result(None)

    def _on_goaway(self, flags: int, stream_id: int, payload: bytes) -> None:
        if stream_id or len(payload) < 8:
            raise f.PeerError(f.PROTOCOL_ERROR, "malformed GOAWAY")
        last, code = struct.unpack_from(">LL", payload)
        last &= f.MAX_STREAM_ID
        detail = f" {payload[8:].decode(errors='replace')}" if payload[8:] else ""
        if self.error is None:
            self.error = ConnectionLost(f"GOAWAY {f.error_name(code)}{detail}")
        self._slots.fail(self.error)
        for later in [i for i in self._streams if i > last]:  # never processed: safe to retry
            self._finish(later, self.error)
        if not self._streams:
            self._die(self.error)

    def _on_window_update(self, flags: int, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise f.PeerError(f.FRAME_SIZE_ERROR, "WINDOW_UPDATE not 4 bytes")
        increment = int.from_bytes(payload, "big") & f.MAX_WINDOW
        if stream_id == 0:
            if not increment or self._send_window + increment > f.MAX_WINDOW:
                raise f.PeerError(f.PROTOCOL_ERROR if not increment else f.FLOW_CONTROL_ERROR,
                                  f"connection WINDOW_UPDATE of {increment}")
            self._send_window += increment
        elif (stream := self._streams.get(stream_id)) is not None:
            if not increment or stream.window + increment > f.MAX_WINDOW:
                self._reset(stream_id, f.PROTOCOL_ERROR if not increment else f.FLOW_CONTROL_ERROR,
                            H2Error(f"stream WINDOW_UPDATE of {increment}"))
                return
            stream.window += increment
        if self._blocked:
            self._unblock()

    _HANDLERS = {f.CONTINUATION: _on_continuation, f.RST_STREAM: _on_rst_stream,
                 f.SETTINGS: _on_settings, f.PUSH_PROMISE: _on_push_promise, f.PING: _on_ping,
                 f.GOAWAY: _on_goaway, f.WINDOW_UPDATE: _on_window_update}

    # -- outbound and stream state -------------------------------------------

    def _send_headers(self, stream_id: int, block: bytes, end_stream: bool) -> None:
        flags, limit = f.END_STREAM if end_stream else 0, self._max_frame
        if len(block) <= limit:
            self._out.append(f.frame(f.HEADERS, flags | f.END_HEADERS, stream_id, block))
            return
        parts = [block[i:i + limit] for i in range(0, len(block), limit)]
        self._out.append(f.frame(f.HEADERS, flags, stream_id, parts[0]))
        for part in parts[1:-1]:
            self._out.append(f.frame(f.CONTINUATION, 0, stream_id, part))
        self._out.append(f.frame(f.CONTINUATION, f.END_HEADERS, stream_id, parts[-1]))

    def _unblock(self) -> None:
        """Send what flow control now allows of the waiting bodies, oldest first."""
        for stream_id in list(self._blocked):
            stream = self._streams.get(stream_id)
            while stream is not None and stream.unsent:
                room = min(self._send_window, stream.window, self._max_frame)
                if room <= 0:
                    return  # still no credit: keep the order
                chunk, stream.unsent = stream.unsent[:room], stream.unsent[room:]
                self._send_window -= len(chunk)
                stream.window -= len(chunk)
                self._out.append(f.frame(f.DATA, 0 if stream.unsent else f.END_STREAM, stream_id, chunk))
            del self._blocked[stream_id]

    def _flush(self) -> None:
        self._flush_handle = None
        if self._out:
            data = b"".join(self._out)
            self._out.clear()
            if self._transport is not None and not self._transport.is_closing():
                self._transport.write(data)

    def _check_deadlines(self) -> None:
        """Requests unanswered for `timeout` fail; a connection silent that long is dead."""
        self._timer = None
        if not self._streams:
            return
        now = self._loop.time()
        if now - self.last_received >= self.timeout:
            self._die(ConnectionLost(f"no data from the server in {self.timeout:g}s"))
            return
        for stream_id, stream in list(self._streams.items()):  # oldest first
            if stream.deadline > now:
                self._timer = self._loop.call_at(stream.deadline, self._check_deadlines)
                break
            self._reset(stream_id, f.CANCEL, Timeout(f"no answer in {self.timeout:g}s"))
        self._flush()

    def _reset(self, stream_id: int, code: int, outcome: H2Error) -> None:
        self._out.append(f.rst_stream(stream_id, code))
        self._finish(stream_id, outcome)

    def _complete(self, stream_id: int, stream: _Stream) -> None:
        self._finish(stream_id, Response(stream.status, stream.headers, stream.body) if stream.status
                     else H2Error("response without a valid :status"))

    def _finish(self, stream_id: int, outcome: Response | H2Error) -> None:
        stream = self._streams.pop(stream_id, None)
        if stream is None:
            return
        if stream.unsent:
            self._blocked.pop(stream_id, None)
        self._slots.release()
        if not self.warm:
            self.warm = True
            self._slots.resize(self._max_streams)
        if not stream.future.done():
            if type(outcome) is Response:
                stream.future.set_result(outcome)
            else:
                stream.future.set_exception(outcome)
        if self.error is not None and not self._streams:
            self._die(self.error)  # the last answer after a GOAWAY

    def _die(self, error: H2Error) -> None:
        """No new requests; every unanswered one fails with `error`; the socket closes."""
        if self.error is None:
            self.error = error
        for stream_id in list(self._streams):
            self._finish(stream_id, self.error)
        self._slots.fail(self.error)
        if not self._closing:
            self._closing = True
            if self._transport is not None:
                self._flush()  # a GOAWAY of ours goes out first
                self._transport.close()

    async def _closed(self) -> None:
        """Wait a moment for the TLS shutdown, then drop the socket: close_notify may never come."""
        self._die(self.error or ConnectionLost("connection closed"))
        if self._lost.done() or self._transport is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._lost), _CLOSE_WAIT)
        except asyncio.TimeoutError:
            self._transport.abort()
            await asyncio.sleep(0)  # the socket closes on the next loop iteration
