"""A fast stand-in APNs for benchmarks: every push is answered 200, from raw HTTP/2 frames.

    with FastAPNs.run_in_process(ca_file=ca_pem_path) as fake:   # as FakeAPNs
        client = APNsClient(..., host=fake.host, port=fake.port, verify=fake.server_ca_file)

It checks nothing a push says (the tests run against `FakeAPNs`, which does) and costs
the benchmark a fraction of the client's CPU per push, so the client's figure is not
set by waiting for the fake. What it keeps of APNs: mutual TLS with a client
certificate from `ca_file`, ALPN h2, one stream until the first answer and then
`max_concurrent_streams`, an apns-id per answer (Huffman-coded, as HPACK encoders
usually send strings, from a pool made at start), connection credit for the client's
bodies, PING answered. The request header blocks are not decoded.
"""
from __future__ import annotations

import asyncio
import contextlib
import struct
import tempfile
import time
import uuid
from pathlib import Path

from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH

from fakes.apns import FakeAPNs, loop_thread, mutual_tls

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_HEADER = struct.Struct(">BHBBL")
_DATA, _HEADERS, _SETTINGS, _PING, _GOAWAY = 0, 1, 4, 6, 7
_END_STREAM, _END_HEADERS = 0x1, 0x4


def _frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return _HEADER.pack(len(payload) >> 16, len(payload) & 0xFFFF, kind, flags, stream_id) + payload


def _answers(count: int) -> list[bytes]:
    """Header blocks: :status 200 (static index 8), apns-id as a literal, Huffman-coded."""
    huffman = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH).encode
    name = huffman(b"apns-id")
    blocks = []
    for _ in range(count):
        value = huffman(str(uuid.uuid4()).upper().encode())
        blocks.append(b"\x88\x00" + bytes((0x80 | len(name),)) + name + bytes((0x80 | len(value),)) + value)
    return blocks


def _settings(**values: int) -> bytes:
    codes = {"max_concurrent_streams": 3, "initial_window_size": 4}
    return _frame(_SETTINGS, 0, 0, b"".join(struct.pack(">HL", codes[k], v) for k, v in values.items()))


class _Answerer(asyncio.Protocol):
    def __init__(self, fake: FastAPNs) -> None:
        self.fake, self.inbox, self.preface = fake, b"", True
        self.answered = 0

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.fake.connections += 1
        transport.write(_settings(max_concurrent_streams=1, initial_window_size=1 << 20)
                        + _frame(8, 0, 0, (16 << 20).to_bytes(4, "big")))  # WINDOW_UPDATE

    def data_received(self, data: bytes) -> None:
        data = self.inbox + data
        if self.preface:
            if len(data) < len(_PREFACE):
                self.inbox = data
                return
            data, self.preface = data[len(_PREFACE):], False
        out, pos, end, credit = [], 0, len(data), 0
        unpack, answers, answered = _HEADER.unpack_from, self.fake.answers, self.answered
        while end - pos >= 9:
            high, low, kind, flags, stream_id = unpack(data, pos)
            stop = pos + 9 + (high << 16 | low)
            if stop > end:
                break
            if kind == _DATA:
                credit += stop - pos - 9
            elif kind == _SETTINGS and not flags & 1:
                out.append(_frame(_SETTINGS, 1, 0))
            elif kind == _PING and not flags & 1:
                out.append(_frame(_PING, 1, 0, data[pos + 9:stop]))
            elif kind == _GOAWAY:
                self.transport.close()
                return
            if flags & _END_STREAM and kind in (_DATA, _HEADERS):
                answered += 1
                payload = answers[answered % len(answers)]
                out.append(_HEADER.pack(0, len(payload), _HEADERS, _END_STREAM | _END_HEADERS, stream_id)
                           + payload)
                if answered == 1:
                    out.append(_settings(max_concurrent_streams=self.fake.max_concurrent_streams))
            pos = stop
        self.inbox = data[pos:]
        if credit:
            out.append(_frame(8, 0, 0, credit.to_bytes(4, "big")))
        self.fake.pushes += answered - self.answered
        self.answered = answered
        if out:
            self.transport.write(b"".join(out))


class FastAPNs:
    run_in_process = classmethod(FakeAPNs.run_in_process.__func__)

    def __init__(self, ca_file: str | Path, max_concurrent_streams: int = 1000,
                 host: str = "127.0.0.1") -> None:
        self.ca_file, self.max_concurrent_streams, self.host = ca_file, max_concurrent_streams, host
        self.pushes = self.connections = 0
        self.answers = _answers(4096)

    def stats(self) -> dict[str, object]:
        return {"pushes": self.pushes, "connections": self.connections,
                "cpu_seconds": time.process_time()}  # of the whole process the fake runs in

    @property
    def server_ca_file(self) -> str:
        return str(self._dir / "server.pem")

    def __enter__(self) -> FastAPNs:
        self._tmp = tempfile.TemporaryDirectory(prefix="fast-apns-")
        self._dir = Path(self._tmp.name)
        context = mutual_tls(self._dir, self.host, self.ca_file, "h2")
        self._loop, self._thread = loop_thread("fast-apns")
        start = self._loop.create_server(lambda: _Answerer(self), self.host, 0, ssl=context)
        self._server = asyncio.run_coroutine_threadsafe(start, self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc_info) -> None:
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._tmp.cleanup()
