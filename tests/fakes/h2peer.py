"""A scripted HTTP/2 server for client framing tests: raw frames, nothing checked for you.

    def serve(link):            # async: what the server says, frame by frame
        await link.handshake({MAX_CONCURRENT_STREAMS: 10})
        request = await link.request()
        link.send(link.headers(request.stream_id, [(":status", "200")]))

    run_peer(tmp_path, serve, client)   # client: async (Connection) -> result

Frames are built and parsed here with struct (not with the client's own code), and
header blocks with the `hpack` library, so the client is checked against another
implementation. The peer's exceptions (a failed assertion in `serve`) are raised by
`run_peer` after the client is done.
"""
from __future__ import annotations

import asyncio
import ssl
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

import hpack

from espalier.apple.h2client import Connection, RequestTemplate
from fakes.apns import _self_signed

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM = ACK = 0x1
END_HEADERS, PADDED, PRIORITY_FLAG = 0x4, 0x8, 0x20
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE = range(1, 6)
TEMPLATE = RequestTemplate("POST", "127.0.0.1", [("apns-push-type", "mdm"), ("apns-topic", "t")])
BODY = b'{"mdm":"0123456789ABCDEF0123456789ABCDEF0123"}'


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return struct.pack(">L", len(payload))[1:] + struct.pack(">BBL", kind, flags, stream_id) + payload


def settings(values: dict[int, int]) -> bytes:
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HL", k, v) for k, v in values.items()))


def window_update(stream_id: int, increment: int) -> bytes:
    return frame(WINDOW_UPDATE, 0, stream_id, struct.pack(">L", increment))


def goaway(last_stream_id: int, code: int = 0, debug: bytes = b"") -> bytes:
    return frame(GOAWAY, 0, 0, struct.pack(">LL", last_stream_id, code) + debug)


def push_headers(path: bytes = b"/3/device/00", body: bytes = BODY) -> list[tuple[bytes, bytes]]:
    """What APNsClient leaves open in the template, for `Connection.request`."""
    return [(b":path", path), (b"apns-expiration", b"0"), (b"content-length", str(len(body)).encode())]


@dataclass
class Request:
    stream_id: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    frames: list[tuple[int, int, int, bytes]] = field(default_factory=list)


class Link:
    """The server's side of one connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder, self.encoder = hpack.Decoder(), hpack.Encoder()
        self.received: list[tuple[int, int, int, bytes]] = []  # every frame the client sent

    async def handshake(self, values: dict[int, int] | None = None) -> None:
        assert await self.reader.readexactly(len(PREFACE)) == PREFACE
        kind, flags, _, _ = await self.frame()
        assert (kind, flags) == (SETTINGS, 0), "the client's SETTINGS come first"
        self.send(settings(values or {}), frame(SETTINGS, ACK, 0))

    async def frame(self) -> tuple[int, int, int, bytes]:
        head = await self.reader.readexactly(9)
        size = int.from_bytes(head[:3], "big")
        kind, flags, stream_id = struct.unpack(">BBL", head[3:])
        received = (kind, flags, stream_id & 0x7FFFFFFF, await self.reader.readexactly(size))
        self.received.append(received)
        return received

    async def expect(self, kind: int) -> tuple[int, int, int, bytes]:
        """The client's next frame of this type (others are skipped)."""
        while (received := await self.frame())[0] != kind:
            pass
        return received

    async def request(self, need_body: bool = True) -> Request:
        """The client's next request: its header block and, if `need_body`, the whole body."""
        request, block = None, b""
        while True:
            kind, flags, stream_id, payload = received = await self.frame()
            if kind in (HEADERS, CONTINUATION):
                block += payload
                if flags & END_HEADERS:
                    request = Request(stream_id, self.decoder.decode(block, raw=True))
                    block = b""
                    if flags & END_STREAM or not need_body:
                        return request
            elif kind == DATA and request is not None and stream_id == request.stream_id:
                request.body += payload
                if flags & END_STREAM:
                    return request
            if request is not None:
                request.frames.append(received)

    def headers(self, stream_id: int, headers: list[tuple[str, str]], end_stream: bool = True,
                flags: int = 0) -> bytes:
        block = self.encoder.encode(headers)
        return frame(HEADERS, flags | END_HEADERS | (END_STREAM if end_stream else 0), stream_id, block)

    def send(self, *frames: bytes) -> None:
        self.writer.write(b"".join(frames))


def client_context(directory: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(directory / "server.pem"))
    context.set_alpn_protocols(["h2"])
    return context


def run_peer(directory: Path, serve: Callable[[Link], Awaitable[None]],
             client: Callable[[Connection], Awaitable[object]], timeout: float = 5.0):
    """Serve one connection with `serve` while `client` uses it; the client's result."""

    async def main():
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(_self_signed(directory, "127.0.0.1"))
        context.set_alpn_protocols(["h2"])
        served = asyncio.get_running_loop().create_future()

        async def handle(reader, writer):
            try:
                await serve(Link(reader, writer))
                served.set_result(None)
            except Exception as exc:  # noqa: BLE001 - raised below, in the test
                served.set_exception(exc)
            finally:
                await asyncio.sleep(0.05)  # the client reads what was sent before the close
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
        port = server.sockets[0].getsockname()[1]
        conn = await Connection.open("127.0.0.1", port, client_context(directory), TEMPLATE, timeout)
        try:
            result = await asyncio.wait_for(client(conn), timeout * 2)
            await asyncio.wait_for(served, timeout)
            return result
        finally:
            await conn.close()
            server.close()

    return asyncio.run(main())
