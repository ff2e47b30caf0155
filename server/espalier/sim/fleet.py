"""Many simulated devices at once: bounded concurrent enrollment, connect rounds, pushes.

    with Fleet("https://mdm.example.com", secret, 100, "mixed") as fleet:
        fleet.enroll_all()
        fleet.connect_all(rounds=3)
        print(fleet.summary())

`push_callback(token_hex, push_magic)` plugs into a fake APNs: the pushed device runs
a connect session on a worker thread, as a real one wakes up and polls.
"""

from __future__ import annotations

import math
import ssl
import statistics
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from espalier.sim.device import SimulatedDevice
from espalier.sim.facts import CATALOGUE

MIXES: dict[str, tuple[str, ...]] = {"mac": ("mac",), "iphone": ("iphone",), "ipad": ("ipad",),
                                     "mixed": ("mac", "iphone", "intel_t2", "ipad", "intel_t1")}


def _timings(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {"p50": statistics.median(ordered), "p95": ordered[math.ceil(0.95 * len(ordered)) - 1],
            "max": ordered[-1], "mean": statistics.fmean(ordered)}


class Fleet:
    """N devices of the given flavours (a mix name, a flavour, or a list cycled over)."""

    def __init__(self, base_url: str, enroll_secret: str, n: int, flavours: str | Sequence[str] = "mac", *,
                 http2: bool = False, verify: bool | str | ssl.SSLContext = True, workers: int = 16,
                 timeout: float = 30.0, client: httpx.Client | None = None, enroll_url: str | None = None,
                 **device_knobs: Any) -> None:
        names = (MIXES.get(flavours) or (flavours,)) if isinstance(flavours, str) else tuple(flavours)
        unknown = [name for name in names if name not in CATALOGUE]
        if unknown:
            raise ValueError(f"unknown flavours {unknown}; known: {sorted(CATALOGUE)}")
        self.enroll_url = enroll_url or f"{base_url.rstrip('/')}/public/enroll/{enroll_secret}/"
        self._own_client = client is None
        self.client = client or httpx.Client(
            http2=http2, verify=verify, timeout=timeout,
            limits=httpx.Limits(max_connections=workers * 2, max_keepalive_connections=workers * 2))
        self.devices = [SimulatedDevice.flavour(names[i % len(names)], client=self.client, **device_knobs)
                        for i in range(n)]
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="sim-device")
        self._device_locks = {id(d): threading.Lock() for d in self.devices}
        self._lock = threading.Lock()
        self._by_token: dict[str, SimulatedDevice] = {}
        self._pending: set[Future[Any]] = set()
        self.enrolled = self.failed = self.connects = self.unknown_pushes = 0
        self.commands: Counter[str] = Counter()  # by Status
        self.request_types: Counter[str] = Counter()
        self.enroll_times: list[float] = []
        self.connect_times: list[float] = []
        self.enroll_wall = self.connect_wall = 0.0
        self.round_connects = 0  # connects made by connect_all, for connects/s

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._own_client:
            self.client.close()

    def by_token(self, token_hex: str) -> SimulatedDevice | None:
        """The device holding this push token (it may still be finishing its enrollment)."""
        token_hex = token_hex.lower()
        device = self._by_token.get(token_hex)
        if device is None or device.push_token_hex != token_hex:
            device = next((d for d in self.devices if d.push_token_hex == token_hex), None)
        return device

    # ---- work -------------------------------------------------------------------------

    def _enroll(self, device: SimulatedDevice) -> bool:
        start = time.perf_counter()
        with self._device_locks[id(device)]:  # a push during TokenUpdate connects afterwards
            try:
                ok = device.enroll(self.enroll_url, self.client)
            except Exception as exc:  # noqa: BLE001 - a crash fails one device, not the fleet
                device.errors.append(f"enroll crashed: {exc!r}")
                ok = False
        with self._lock:
            self.enroll_times.append(time.perf_counter() - start)
            if ok:
                self.enrolled += 1
                self._by_token[device.push_token_hex] = device
            else:
                self.failed += 1
        return ok

    def connect_device(self, device: SimulatedDevice) -> list[tuple[str, str]]:
        """One connect session; sessions of one device never overlap."""
        with self._device_locks[id(device)]:
            start = time.perf_counter()
            try:
                handled = device.connect()
            except Exception as exc:  # noqa: BLE001
                device.errors.append(f"connect crashed: {exc!r}")
                handled = []
            elapsed = time.perf_counter() - start
        with self._lock:
            self.connects += 1
            self.connect_times.append(elapsed)
            self.commands.update(status for _, status in handled)
            self.request_types.update(request_type for request_type, _ in handled)
        return handled

    def make_keys_ahead(self, key_size: int = 2048) -> float:
        """Generate each waiting device's SCEP key now, so enroll timings measure the server."""
        start = time.perf_counter()
        waiting = [d for d in self.devices if not d.enrolled and d.spare_key is None]
        for device, key in zip(waiting, self._pool.map(lambda _: rsa.generate_private_key(65537, key_size), waiting)):
            device.spare_key = key
        return time.perf_counter() - start

    def enroll_all(self) -> int:
        """Enroll every device not enrolled yet, `workers` at a time; returns how many succeeded."""
        start = time.perf_counter()
        results = list(self._pool.map(self._enroll, [d for d in self.devices if not d.enrolled]))
        self.enroll_wall += time.perf_counter() - start
        return sum(results)

    def connect_all(self, rounds: int = 1) -> None:
        """`rounds` connect sessions for every enrolled device (one round at a time)."""
        for _ in range(rounds):
            start = time.perf_counter()
            self.round_connects += len(list(self._pool.map(self.connect_device,
                                                           [d for d in self.devices if d.enrolled])))
            self.connect_wall += time.perf_counter() - start

    def push_callback(self, token_hex: str, push_magic: str) -> None:
        """A push arrived (fake APNs): the device connects on a worker thread."""
        device = self.by_token(token_hex) if token_hex else None
        if device is None or device.push_magic != push_magic:
            with self._lock:
                self.unknown_pushes += 1
            return
        future = self._pool.submit(self.connect_device, device)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._settled)

    def _settled(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def wait_for_pushes(self, timeout: float = 30.0) -> bool:
        """Wait until push-triggered connects are done; False on timeout."""
        with self._lock:
            pending = set(self._pending)
        return not wait(pending, timeout).not_done

    # ---- reporting --------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        errors = Counter(e.split(":")[0] + ": " + e.split(":", 1)[-1].strip()[:80]
                         for d in self.devices for e in d.errors)
        return {
            "devices": len(self.devices), "enrolled": self.enrolled, "failed": self.failed,
            "unenrolled_by_server": sum(d.unenrolled_by_server for d in self.devices),
            "connects": self.connects, "commands": dict(self.commands),
            "request_types": dict(self.request_types), "unknown_pushes": self.unknown_pushes,
            "enroll_seconds": _timings(self.enroll_times), "connect_seconds": _timings(self.connect_times),
            "enrollments_per_s": self.enrolled / self.enroll_wall if self.enroll_wall else 0.0,
            "connects_per_s": self.round_connects / self.connect_wall if self.connect_wall else 0.0,
            "errors": dict(errors.most_common(10)),
        }
