"""h2client against a scripted HTTP/2 peer: odd and hostile frames, flow control, SETTINGS, GOAWAY."""
from __future__ import annotations

import asyncio
import struct

import pytest

from espalier.apple.h2client import ConnectionLost, H2Error, StreamReset
from fakes.h2peer import (ACK, BODY, CONTINUATION, DATA, END_HEADERS, END_STREAM, GOAWAY,
                          HEADER_TABLE_SIZE, HEADERS, INITIAL_WINDOW_SIZE, MAX_CONCURRENT_STREAMS,
                          MAX_FRAME_SIZE, PADDED, PING, PRIORITY_FLAG, PUSH_PROMISE, RST_STREAM,
                          SETTINGS, WINDOW_UPDATE, frame, goaway, push_headers, run_peer, settings,
                          window_update)

OK = [(":status", "200"), ("apns-id", "00000000-0000-0000-0000-000000000001")]


def push(conn, n: int = 0):
    return conn.request(push_headers(b"/3/device/%02x" % n), BODY)


async def statuses(*requests) -> list[object]:
    results = await asyncio.gather(*requests, return_exceptions=True)
    return [r.status if hasattr(r, "status") else type(r) for r in results]


def test_unknown_frames_padding_and_priority_are_read_through(tmp_path):
    async def serve(link):
        await link.handshake()
        request = await link.request()
        sid = request.stream_id
        block = link.encoder.encode([(":status", "410"), ("apns-id", "x")])
        body = b'{"reason":"Unregistered","timestamp":1700000000000}'
        link.send(frame(0xFA, 0xFF, 0, b"whatever"),  # unknown type: ignored (RFC 9113 4.1)
                  frame(0xFB, 0, sid, b"x" * 100),
                  frame(HEADERS, END_HEADERS | PADDED | PRIORITY_FLAG, sid,
                        bytes([7]) + struct.pack(">LB", 0, 15) + block + b"\0" * 7),
                  frame(DATA, PADDED, sid, bytes([3]) + body[:10] + b"\0\0\0"),
                  frame(DATA, PADDED | END_STREAM, sid, bytes([0]) + body[10:]))

    async def client(conn):
        return await push(conn)

    response = run_peer(tmp_path, serve, client)
    assert response.status == 410 and response.header(b"apns-id") == b"x"
    assert response.body == b'{"reason":"Unregistered","timestamp":1700000000000}'


def test_header_block_split_over_continuation_frames(tmp_path):
    async def serve(link):
        await link.handshake()
        sid = (await link.request()).stream_id
        block = link.encoder.encode(OK + [("x-long", "v" * 40)])
        link.send(frame(HEADERS, END_STREAM, sid, block[:5]), frame(CONTINUATION, 0, sid, block[5:20]),
                  frame(CONTINUATION, END_HEADERS, sid, block[20:]))

    response = run_peer(tmp_path, serve, lambda conn: push(conn))
    assert response.status == 200 and response.header(b"x-long") == b"v" * 40


@pytest.mark.parametrize("hostile, problem", [
    (lambda sid, block: frame(HEADERS, END_STREAM, sid, block[:5]) + frame(PING, 0, 0, b"8 bytes!"),
     "header block interrupted"),
    (lambda sid, block: frame(CONTINUATION, END_HEADERS, sid, block), "CONTINUATION"),
    (lambda sid, block: frame(PUSH_PROMISE, END_HEADERS, sid, struct.pack(">L", 2) + block), "PUSH_PROMISE"),
    (lambda sid, block: frame(DATA, END_STREAM, sid + 2, b"{}"), "DATA on stream"),
    (lambda sid, block: frame(HEADERS, END_HEADERS, 2, block), "HEADERS on stream 2"),
    (lambda sid, block: frame(DATA, 0, sid, b"x" * 16385), "frame of 16385 bytes"),
    (lambda sid, block: frame(HEADERS, END_HEADERS | PADDED, sid, bytes([200]) + block), "padding"),
    (lambda sid, block: frame(HEADERS, END_HEADERS, sid, b"\xff\xff\xff\xff"), "header block"),
    (lambda sid, block: settings({INITIAL_WINDOW_SIZE: 2**31}), "INITIAL_WINDOW_SIZE"),
    (lambda sid, block: settings({MAX_FRAME_SIZE: 100}), "MAX_FRAME_SIZE"),
    (lambda sid, block: frame(SETTINGS, 0, 0, b"12345"), "SETTINGS"),
    (lambda sid, block: window_update(0, 0), "WINDOW_UPDATE of 0"),
    (lambda sid, block: window_update(0, 2**31 - 1), "WINDOW_UPDATE"),
])
def test_protocol_errors_kill_the_connection_with_a_goaway(tmp_path, hostile, problem):
    sent = {}

    async def serve(link):
        await link.handshake()
        sid = (await link.request()).stream_id
        link.send(hostile(sid, link.encoder.encode(OK)))
        sent["goaway"] = await link.expect(GOAWAY)

    async def client(conn):
        with pytest.raises(ConnectionLost, match="protocol error") as lost:
            await push(conn)
        assert conn.error is lost.value  # never reused
        with pytest.raises(ConnectionLost):
            await push(conn, 1)
        return str(lost.value)

    message = run_peer(tmp_path, serve, client)
    assert problem in message
    last_stream_id, code = struct.unpack(">LL", sent["goaway"][3][:8])
    assert last_stream_id == 0 and code != 0


def test_zero_window_holds_the_body_until_window_update(tmp_path):
    async def serve(link):
        await link.handshake({INITIAL_WINDOW_SIZE: 0})
        request = await link.request(need_body=False)  # HEADERS alone: no credit for DATA
        sid = request.stream_id
        await asyncio.sleep(0.1)
        link.send(window_update(sid, 10))
        kind, flags, _, chunk = await link.expect(DATA)
        assert (len(chunk), flags) == (10, 0)  # exactly the credit, stream not ended
        link.send(window_update(sid, 1000))
        kind, flags, _, rest = await link.expect(DATA)
        assert chunk + rest == BODY and flags & END_STREAM
        assert [f[0] for f in link.received if f[0] == DATA] == [DATA, DATA]
        link.send(link.headers(sid, OK))

    assert run_peer(tmp_path, serve, lambda conn: push(conn)).status == 200


def test_connection_window_is_shared_and_refilled(tmp_path):
    fits = 65_535 // len(BODY)  # bodies that fit the connection's initial credit

    async def serve(link):
        await link.handshake()
        for _ in range(fits):
            request = await link.request()
            link.send(link.headers(request.stream_id, OK))
        last = await link.request(need_body=False)
        await asyncio.sleep(0.1)
        sent = sum(len(f[3]) for f in link.received if f[0] == DATA)
        assert 65_535 - len(BODY) < sent <= 65_535  # part of the last body at most, then it waits
        link.send(window_update(0, 1_000_000))
        while not link.received[-1][1] & END_STREAM:
            await link.expect(DATA)
        link.send(link.headers(last.stream_id, OK))

    async def client(conn):
        return [(await push(conn, n % 256)).status for n in range(fits + 1)]

    assert run_peer(tmp_path, serve, client, timeout=10) == [200] * (fits + 1)


def test_settings_changes_mid_connection_apply_to_the_next_requests(tmp_path):
    seen = {}

    async def serve(link):
        await link.handshake({MAX_CONCURRENT_STREAMS: 1})
        first = await link.request()
        link.send(settings({MAX_CONCURRENT_STREAMS: 2, HEADER_TABLE_SIZE: 0}), link.headers(first.stream_id, OK))
        link.decoder.max_allowed_table_size = 0  # the client must announce the smaller table
        acked = await link.expect(SETTINGS)
        seen["ack"] = acked[1]
        pending = [await link.request(), await link.request()]
        await asyncio.sleep(0.1)  # a third request would arrive now if the limit were ignored
        seen["in flight"] = len(pending)
        seen["headers"] = dict(pending[0].headers)
        for request in pending:
            link.send(link.headers(request.stream_id, OK))
        while len(pending) < 3:
            pending.append(await link.request())
            link.send(link.headers(pending[-1].stream_id, OK))

    async def client(conn):
        first = await push(conn)
        rest = await statuses(*(push(conn, n) for n in range(1, 4)))
        return [first.status, *rest], conn.max_streams

    results, limit = run_peer(tmp_path, serve, client)
    assert results == [200] * 4 and limit == 2
    assert seen["ack"] == ACK and seen["in flight"] == 2
    assert seen["headers"][b":method"] == b"POST" and seen["headers"][b"apns-topic"] == b"t"


def test_goaway_fails_streams_above_last_stream_id_and_lets_the_rest_finish(tmp_path):
    async def serve(link):
        await link.handshake({MAX_CONCURRENT_STREAMS: 10})
        first = await link.request()
        link.send(link.headers(first.stream_id, OK))
        requests = [await link.request() for _ in range(3)]  # streams 3, 5, 7
        link.send(goaway(requests[1].stream_id, 0, b"Shutdown"))
        await asyncio.sleep(0.05)
        for request in requests[:2]:
            link.send(link.headers(request.stream_id, OK))

    async def client(conn):
        await push(conn)
        results = await statuses(*(push(conn, n) for n in range(1, 4)))
        with pytest.raises(ConnectionLost, match="GOAWAY NO_ERROR Shutdown"):
            await push(conn, 9)
        return results

    assert run_peer(tmp_path, serve, client) == [200, 200, ConnectionLost]


def test_reset_stream_fails_that_request_alone(tmp_path):
    async def serve(link):
        await link.handshake()
        first = await link.request()
        link.send(link.headers(first.stream_id, OK))
        a, b = await link.request(), await link.request()
        link.send(frame(RST_STREAM, 0, a.stream_id, struct.pack(">L", 2)), link.headers(b.stream_id, OK))

    async def client(conn):
        await push(conn)
        return await statuses(push(conn, 1), push(conn, 2)), conn.error

    assert run_peer(tmp_path, serve, client) == ([StreamReset, 200], None)


def test_ping_is_answered_and_informational_headers_skipped(tmp_path):
    seen = {}

    async def serve(link):
        await link.handshake()
        sid = (await link.request()).stream_id
        link.send(frame(PING, 0, 0, b"12345678"), link.headers(sid, [(":status", "100")], end_stream=False))
        seen["pong"] = await link.expect(PING)
        link.send(link.headers(sid, OK, end_stream=False),
                  link.headers(sid, [("x-trailer", "1")]))  # trailers end the stream

    response = run_peer(tmp_path, serve, lambda conn: push(conn))
    assert response.status == 200 and response.header(b"apns-id")
    assert seen["pong"][1] == ACK and seen["pong"][3] == b"12345678"


def test_response_without_status_is_an_error_and_the_connection_lives(tmp_path):
    async def serve(link):
        await link.handshake()
        sid = (await link.request()).stream_id
        link.send(link.headers(sid, [("apns-id", "x")]))
        sid = (await link.request()).stream_id
        link.send(link.headers(sid, OK))

    async def client(conn):
        with pytest.raises(H2Error, match="without a valid :status"):
            await push(conn)
        return (await push(conn, 1)).status

    assert run_peer(tmp_path, serve, client) == 200


def test_large_response_body_gets_stream_credit_back(tmp_path):
    async def serve(link):
        await link.handshake()
        sid = (await link.request()).stream_id
        link.send(link.headers(sid, OK, end_stream=False))
        chunk = b"x" * 16384
        for _ in range(40):  # 640 KiB: past half the client's 1 MiB stream window
            link.send(frame(DATA, 0, sid, chunk))
        link.send(frame(DATA, END_STREAM, sid, b"end"))
        await link.expect(WINDOW_UPDATE)  # connection or stream credit; the stream's comes too
        while not any(f[0] == WINDOW_UPDATE and f[2] == sid for f in link.received):
            await link.expect(WINDOW_UPDATE)

    response = run_peer(tmp_path, serve, lambda conn: push(conn))
    assert len(response.body) == 40 * 16384 + 3
