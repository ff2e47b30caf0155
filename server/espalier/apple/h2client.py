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

from espalier.apple import h2frames as f
from espalier.apple.h2inbound import RECEIVE_WINDOW, STREAM_WINDOW, Inbound
from espalier.apple.h2results import (ConnectError, ConnectionLost, H2Error, NotHTTP2, Response,
                                      Stream, StreamReset, Timeout)
from espalier.apple.h2slots import Slots
from espalier.apple.hpack_request import RequestTemplate, TemplateEncoder
from espalier.apple.hpack_response import ResponseDecoder

__all__ = ["ConnectError", "Connection", "ConnectionLost", "H2Error", "NotHTTP2", "RequestTemplate",
           "Response", "StreamReset", "Timeout"]

log = logging.getLogger(__name__)

_CLOSE_WAIT = 0.1  # seconds close() waits for the TLS shutdown before dropping the socket
_OUR_SETTINGS = {f.ENABLE_PUSH: 0, f.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
                 f.MAX_HEADER_LIST_SIZE: 64 * 1024}
_PING = b"espalier"


class Connection(Inbound, asyncio.Protocol):
    """One HTTP/2 connection; `request()` from the event loop that opened it."""

    def __init__(self, template: RequestTemplate, timeout: float) -> None:
        self.timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._closing = False  # the transport was told to close: nothing more is read or sent
        self._encoder = TemplateEncoder(template)
        self._decoder = ResponseDecoder(max_list_size=_OUR_SETTINGS[f.MAX_HEADER_LIST_SIZE])
        self._streams: dict[int, Stream] = {}  # in order of opening, so of deadline
        self._blocked: dict[int, None] = {}  # streams waiting for flow-control credit
        self._next_id = 1
        self._out: list[bytes] = []
        self._inbox = b""  # the start of a frame not yet complete
        self._header_block: tuple[int, int, list[bytes]] | None = None  # awaiting CONTINUATION
        self._max_streams = f.UNLIMITED_STREAMS
        self._max_frame = f.DEFAULT_FRAME_SIZE  # what the peer accepts
        self._stream_window = f.DEFAULT_WINDOW  # the peer's SETTINGS_INITIAL_WINDOW_SIZE
        self._send_window = f.DEFAULT_WINDOW  # the connection's outbound credit
        self._receive_window = RECEIVE_WINDOW
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
        stream = Stream(self._loop.create_future(), self._loop.time() + self.timeout,
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
                            + f.window_update(0, RECEIVE_WINDOW - f.DEFAULT_WINDOW))

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

    def _complete(self, stream_id: int, stream: Stream) -> None:
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
