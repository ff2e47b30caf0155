"""APNs client for MDM pushes: one long-lived HTTP/2 connection per push certificate.

Apple: "Sending notification requests to APNs" and "Handling notification
responses from APNs". A push is `POST /3/device/<token hex>` with push type
`mdm`, the certificate's UID as topic and exactly `{"mdm":"<PushMagic>"}`.
Connections stay open (APNs treats connect/disconnect churn as abuse) and
in-flight streams stay within the server's SETTINGS_MAX_CONCURRENT_STREAMS; a new
connection carries its first push alone (APNs allows one stream until then). A
connection that died (GOAWAY, EOF, silence) is replaced once, whichever push finds it.

The transport is `h2client` (our own HTTP/2 framing and HPACK), not httpx's
`AsyncClient(http2=True)` nor h2: bench/push.py (10,000 pushes to a stand-in APNs in its
own process, 2-core dev box) measured httpx at ~2.3 ms of client CPU per push, h2client
on h2 at ~160 us and h2client on its own framing at ~35 us (load average 10-13).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, Literal

import certifi

from espalier.apple.h2client import (ConnectError, Connection, H2Error, NotHTTP2, RequestTemplate,
                                     Response)

log = logging.getLogger(__name__)

PRODUCTION_HOST = "api.push.apple.com"
SANDBOX_HOST = "api.sandbox.push.apple.com"
DEFAULT_EXPIRATION = 3 * 24 * 3600
MAX_CONCURRENCY = 500
CONNECT_COOLDOWN = 1.0  # a failed connect is the answer for this long: no reconnect storm
IDLE_PING = 60.0  # a connection idle this long is PINGed before reuse (NAT may have dropped it)

Outcome = Literal["sent", "unregistered", "bad_token", "certificate_error", "retry"]
_TOKEN = re.compile(r"[0-9a-f]+")
_BAD_TOKEN_REASONS = frozenset({"BadDeviceToken", "DeviceTokenNotForTopic"})
_MALFORMED = "MalformedToken"  # our own reason: the token is not hex, nothing was sent
_JSON_PLAIN = re.compile(r'[ !#-\[\]-~]*')  # printable ASCII that JSON needs no escape for


@dataclass(frozen=True)
class PushTarget:
    device_key: str  # opaque to the client: maps a result back to its enrollment
    token_hex: str
    push_magic: str


@dataclass(frozen=True)
class PushResult:
    target: PushTarget
    outcome: Outcome
    status: int | None = None
    reason: str | None = None
    apns_id: str | None = None
    timestamp: datetime | None = None  # 410: when the token stopped being valid


class APNsProtocolError(RuntimeError):
    """The server (or a proxy) answered without HTTP/2, which APNs never does."""


class APNsClient:
    """Sends MDM pushes for one push certificate; not for sharing across event loops.

    Use either `await push_many()` from one event loop, or `push_many_sync()`,
    which runs on a private loop owned by the client (for RQ jobs).
    """

    def __init__(self, cert_pem: bytes, key_pem: bytes, topic: str, *, sandbox: bool = False,
                 expiration_seconds: int = DEFAULT_EXPIRATION, host: str | None = None,
                 port: int = 443, verify: ssl.SSLContext | str | Path | None = None,
                 max_concurrency: int = MAX_CONCURRENCY, max_attempts: int = 3,
                 backoff_base: float = 0.5, backoff_max: float = 8.0, timeout: float = 10.0) -> None:
        self.topic = topic
        self.expiration_seconds = expiration_seconds
        self.max_concurrency = max_concurrency
        self.max_attempts = max(1, max_attempts)
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.timeout = timeout
        self.certificate_error: PushResult | None = None  # set by a 403; the client stops pushing
        self.host, self.port = host or (SANDBOX_HOST if sandbox else PRODUCTION_HOST), port
        self._context = _tls_context(cert_pem, key_pem, verify)
        self._template = RequestTemplate(
            "POST", self.host if port == 443 else f"{self.host}:{port}",
            [("apns-push-type", "mdm"), ("apns-topic", topic), ("apns-priority", "10")])
        self._conn: Connection | None = None
        self._connecting: asyncio.Task | None = None
        self._connect_failed: tuple[float, str] | None = None  # (loop time, message)
        self._expiration: tuple[int, bytes] = (-1, b"")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sync_lock = threading.Lock()
        self._closed = False

    async def push_many(self, targets: Iterable[PushTarget],
                        concurrency: int | None = None) -> list[PushResult]:
        """Push every target once; results come back in the order of `targets`."""
        pending = list(enumerate(targets))
        results: list[PushResult | None] = [None] * len(pending)
        queue = iter(pending)
        await self._check_connection()
        if self.stream_limit is None:
            await self._warm_up(queue, results)
        workers = min(max(1, concurrency or self.max_concurrency), len(pending))

        async def worker() -> None:
            for index, target in queue:  # shared iterator: each target is taken once
                results[index] = await self._push_one(target)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(worker())
        except BaseExceptionGroup as errors:  # surface the first error itself, as the warm-up does
            raise errors.exceptions[0] from None
        return [r for r in results if r is not None]

    async def _warm_up(self, queue: Iterator[tuple[int, PushTarget]],
                       results: list[PushResult | None]) -> None:
        """Push alone until one push reaches the wire: a new APNs connection allows 1 stream."""
        for index, target in queue:
            first = results[index] = await self._push_one(target)
            if first.reason == _MALFORMED:
                continue
            if first.outcome == "retry" and first.status is None:
                # Transport failure even after retries: APNs is unreachable; don't hammer it.
                for index, target in queue:
                    results[index] = replace(first, target=target)
            return

    def push_many_sync(self, targets: Iterable[PushTarget],
                       concurrency: int | None = None) -> list[PushResult]:
        """`push_many` for synchronous callers, on the client's own event loop."""
        with self._sync_lock:
            if self._closed:
                raise RuntimeError("APNsClient is closed")
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
            return self._loop.run_until_complete(self.push_many(targets, concurrency))

    def close(self) -> None:
        """Close the connection (on the private loop, where sync pushes opened it)."""
        with self._sync_lock:
            if self._closed:
                return
            self._closed = True
            loop, self._loop = self._loop or asyncio.new_event_loop(), None
            try:
                loop.run_until_complete(self._close_connection())
            finally:
                loop.close()

    async def aclose(self) -> None:
        """Close from the event loop that `push_many` ran on."""
        self._closed = True
        await self._close_connection()

    async def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and conn.loop is asyncio.get_running_loop():
            await conn.close()

    async def _push_one(self, target: PushTarget) -> PushResult:
        token = target.token_hex.lower()
        if not _TOKEN.fullmatch(token):
            return PushResult(target, "bad_token", reason=_MALFORMED)
        magic = target.push_magic
        body = (b'{"mdm":"' + magic.encode() + b'"}' if _JSON_PLAIN.fullmatch(magic)
                else json.dumps({"mdm": magic}, separators=(",", ":")).encode())
        path, length = b"/3/device/" + token.encode(), str(len(body)).encode()
        result = PushResult(target, "retry")
        for attempt in range(self.max_attempts):
            if attempt:
                await asyncio.sleep(random.uniform(0, min(self.backoff_max,
                                                          self.backoff_base * 2 ** attempt)))
            if self.certificate_error:
                return replace(self.certificate_error, target=target, apns_id=None)
            try:
                conn = self._conn
                if conn is None or conn.error is not None:
                    conn = await self._connection()
                response = await conn.request([(b":path", path), (b"apns-expiration", self._expires()),
                                               (b"content-length", length)], body)
            except H2Error as exc:  # connect, TLS, timeout, stream reset, GOAWAY, EOF
                result = PushResult(target, "retry", reason=f"{type(exc).__name__}: {exc}")
                continue
            result = self._classify(target, response)
            if result.outcome != "retry":
                return result
        # Debug only: the push job says once per certificate and outage that APNs fails.
        log.debug("APNs push to %s still failing after %d attempts: %s %s", target.device_key,
                    self.max_attempts, result.status, result.reason)
        return result

    def _expires(self) -> bytes:
        """The apns-expiration value, rebuilt once a second."""
        if not self.expiration_seconds:
            return b"0"
        now = int(time.time())
        if self._expiration[0] != now:
            self._expiration = (now, str(now + self.expiration_seconds).encode())
        return self._expiration[1]

    async def _connection(self) -> Connection:
        """The live connection, or a new one: one connect per failure, however many pushes wait."""
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_task(self._connect())
        return await asyncio.shield(self._connecting)

    async def _connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        try:
            if self._conn is not None and self._conn.error is None:
                return self._conn
            if self._connect_failed and loop.time() - self._connect_failed[0] < CONNECT_COOLDOWN:
                raise ConnectError(self._connect_failed[1])  # the same failure, moments ago
            try:
                self._conn = await Connection.open(self.host, self.port, self._context,
                                                   self._template, self.timeout)
            except ConnectError as exc:
                self._connect_failed = (loop.time(), str(exc))
                raise
            except NotHTTP2 as exc:
                raise APNsProtocolError(f"{self.host}:{self.port} answered without HTTP/2 "
                                        f"({exc}: it would speak HTTP/1.1); APNs requires HTTP/2") from None
            self._connect_failed = None
            return self._conn
        finally:
            self._connecting = None

    async def _check_connection(self) -> None:
        """Drop a connection of another event loop; PING one that has been idle for long."""
        conn = self._conn
        if conn is None or conn.error is not None:
            return
        if conn.loop is not asyncio.get_running_loop():
            self._conn = None  # its loop is gone or busy elsewhere: never used from here
        elif conn.idle_for() > IDLE_PING:
            try:
                await conn.ping()
            except H2Error as exc:
                log.info("APNs connection to %s went away while idle: %s", self.host, exc)

    def _classify(self, target: PushTarget, response: Response) -> PushResult:
        status, apns_id = response.status, response.header(b"apns-id")
        apns_id = apns_id.decode() if apns_id is not None else None
        if status == 200:
            return PushResult(target, "sent", status, apns_id=apns_id)
        reason, timestamp = _error_body(response.body)
        if status == 410:
            return PushResult(target, "unregistered", status, reason, apns_id, timestamp)
        if status == 403:
            self.certificate_error = PushResult(target, "certificate_error", status, reason, apns_id)
            log.error("APNs refused push certificate for topic %s: %s", self.topic, reason)
            return self.certificate_error
        if status == 429 or status >= 500:
            return PushResult(target, "retry", status, reason, apns_id)
        if not (status == 400 and reason in _BAD_TOKEN_REASONS):
            log.warning("APNs rejected push to %s: %s %s", target.device_key, status, reason)
        return PushResult(target, "bad_token", status, reason, apns_id)

    @property
    def stream_limit(self) -> int | None:
        """SETTINGS_MAX_CONCURRENT_STREAMS of the live connection once it carried a request."""
        conn = self._conn
        if conn is None or conn.error is not None or not conn.warm:
            return None
        return conn.max_streams


def _error_body(body: bytes) -> tuple[str | None, datetime | None]:
    try:
        data = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    millis = data.get("timestamp")
    when = (datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
            if isinstance(millis, (int, float)) else None)
    return data.get("reason"), when


def _tls_context(cert_pem: bytes, key_pem: bytes,
                 verify: ssl.SSLContext | str | Path | None) -> ssl.SSLContext:
    """Server trust from `verify` (default: certifi), client identity = push cert + key."""
    if b"ENCRYPTED" in key_pem:
        raise ValueError("the push key must be decrypted before building an APNs client")
    if isinstance(verify, ssl.SSLContext):
        context = verify
    else:
        context = ssl.create_default_context(cafile=str(verify) if verify else certifi.where())
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2"])
    # load_cert_chain only reads files: the key touches disk (0600, private dir) for this call only.
    with tempfile.TemporaryDirectory(prefix="espalier-apns-") as tmp:
        path = os.path.join(tmp, "identity.pem")
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
            fh.write(cert_pem.rstrip() + b"\n" + key_pem)
        try:
            context.load_cert_chain(path, password=lambda: b"")
        except ssl.SSLError as exc:
            raise ValueError(f"push certificate and key do not form a TLS identity: {exc}") from None
    return context


class APNsPool:
    """A process's APNs clients, one per push certificate, rebuilt when its certificate changes.

    ``conf`` is the ``apps["espalier.mdm"]["apns"]`` settings section. A client inherited
    through fork() is replaced, never closed: its socket is the parent's.
    """

    def __init__(self, conf: dict):
        self.conf = conf
        self._clients: dict[int, tuple[str, int, APNsClient]] = {}
        self._lock = threading.Lock()

    def client(self, cert_id: int, fingerprint: str, cert_pem: bytes, topic: str,
               key_pem: Callable[[], bytes]) -> APNsClient:
        pid = os.getpid()
        with self._lock:
            cached = self._clients.get(cert_id)
            if cached and cached[0] == fingerprint and cached[1] == pid:
                return cached[2]
            conf = self.conf
            client = APNsClient(cert_pem, key_pem(), topic, sandbox=conf["sandbox"],
                                expiration_seconds=conf["expiration_seconds"], host=conf["host"],
                                port=conf["port"], verify=conf["ca_file"])
            self._clients[cert_id] = (fingerprint, pid, client)
        if cached and cached[1] == pid:
            cached[2].close()
        return client

    def close(self) -> None:
        """Close every client of this process (worker shutdown, tests)."""
        with self._lock:
            entries = list(self._clients.values())
            self._clients.clear()
        for _, pid, client in entries:
            if pid == os.getpid():
                client.close()
