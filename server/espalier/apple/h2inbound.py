"""The frames an HTTP/2 server sends a client, read straight from the bytes TLS hands over.

`Inbound` is the reading half of `h2client.Connection`: it parses frames, checks what
RFC 9113 requires of each (a breach is a `PeerError`: GOAWAY, and the connection dies),
decodes header blocks, returns flow-control credit and applies the peer's SETTINGS.
What that does to streams and to the connection goes through the Connection's
`_finish`, `_reset`, `_complete`, `_die` and `_unblock`.
"""
from __future__ import annotations

import struct

from espalier.apple import h2frames as f
from espalier.apple import h2results
from espalier.apple.h2results import ConnectionLost, H2Error, StreamReset
from espalier.apple.hpack_response import DecodeError

RECEIVE_WINDOW = 16 * 1024 * 1024  # responses are small; never make the peer wait for credit
STREAM_WINDOW = 1024 * 1024
MAX_HEADER_BLOCK = 256 * 1024  # HEADERS + CONTINUATION beyond this: the peer is flooding us


class Inbound:
    """The reading half of `h2client.Connection`; all its state lives on the Connection."""

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
        if sum(map(len, parts)) > MAX_HEADER_BLOCK:
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
            code = h2results.status(headers)
            if 100 <= code < 200 and not end_stream:
                return
            stream.status, stream.headers = code, headers
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
        if self._receive_window < RECEIVE_WINDOW // 2:
            self._out.append(f.window_update(0, RECEIVE_WINDOW - self._receive_window))
            self._receive_window = RECEIVE_WINDOW
        if flags & f.PADDED:
            payload = f.unpad(payload)
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        if stream.headers is None:
            self._reset(stream_id, f.PROTOCOL_ERROR, H2Error("DATA before the response headers"))
            return
        stream.received += size
        if stream.received > STREAM_WINDOW:
            self._reset(stream_id, f.FLOW_CONTROL_ERROR, H2Error("DATA beyond the stream window"))
            return
        stream.body += payload
        if flags & f.END_STREAM:
            self._complete(stream_id, stream)
        elif stream.received > STREAM_WINDOW // 2:
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
