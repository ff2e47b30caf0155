"""What an HTTP/2 request ends in: a `Response` or an `H2Error`; and a stream on its way there."""
from __future__ import annotations

import asyncio


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


class Stream:
    """One request's state: its answer as it comes, its body as flow control lets it go."""

    __slots__ = ("future", "deadline", "status", "headers", "body", "unsent", "window", "received")

    def __init__(self, future: asyncio.Future, deadline: float, window: int) -> None:
        self.future, self.deadline, self.window = future, deadline, window
        self.status, self.headers, self.body, self.unsent, self.received = 0, None, b"", b"", 0


def status(headers: list[tuple[bytes, bytes]]) -> int:
    """The response's :status (0 if missing or not a number: the caller sees a bad answer)."""
    name, value = headers[0] if headers else (b"", b"")
    if name != b":status":
        value = next((v for n, v in headers if n == b":status"), b"")
    return int(value) if value.isdigit() else 0
