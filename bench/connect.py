"""Idle connects: the server's CPU per connect against its CPU per trivial request.

    /work/venv/bin/python bench/connect.py [--devices 200] [--connects 5000] [--modes mtls,signature]

A fresh PostgreSQL database, a fake APNs on 127.0.0.1 and N simulated Macs, enrolled once
against gunicorn (keys made ahead; enrollments/s reported), then one connect round to
answer the inventory commands queued at enrollment. Then, for each identity mode
(``mtls``: X-SSL-Client-Cert headers as behind nginx, ``mtls_proxy: true``; ``signature``:
Mdm-Signature on every message, ``mtls_proxy: false``), gunicorn restarted with that
mode's settings and, from ``--concurrency`` client threads:

* half of ``--connects`` GET /healthz (the baseline: no database), ``--connects`` idle
  connects (one Idle PUT answered with an empty 200), the other half of the /healthz;
* half of ``--connects`` GET /healthz paced at the connects' measured rate (a floor at the
  same request rate: the Mdm-Signature client is slower than the server);
* the CPU (user + system) the gunicorn master and workers used in each window, from /proc.

The figure is CPU per connect / CPU per /healthz (issue target <= 2.5x, and <= 1.0 ms with
PostgreSQL's CPU), with PostgreSQL transactions and sessions per request from pg_stat_database. Then the same
connects run in-process against the Flask app under cProfile (a thread-CPU clock) and the
top entries are printed, so the hot path can be optimised.
"""
from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from common import (PG_ADMIN, REPO, BenchError, Gunicorn, PostgresCpu, bench_database, bench_enrollment, drive,
                    espalier, fake_apns, free_port, load_average, ms, ratio, run_main, stop_on_signals, workdir,
                    write_settings)

from espalier.sim.fleet import Fleet

sys.path.insert(0, str(REPO / "tests"))
from fakes.apns import FakeAPNs  # noqa: E402


@dataclass
class Window:
    """One measured batch of requests."""

    n: int
    wall: float
    server_cpu: float  # gunicorn master + workers
    pg_cpu: float  # the PostgreSQL backends of the bench database
    transactions: int = 0  # committed + rolled back in the bench database (pg_stat_database)
    sessions: int = 0  # PostgreSQL sessions opened

    @property
    def cpu_per_request(self) -> float:
        return self.server_cpu / self.n

    @property
    def total_cpu_per_request(self) -> float:
        """gunicorn and PostgreSQL."""
        return (self.server_cpu + self.pg_cpu) / self.n


def pg_counters(dbname: str) -> tuple[int, int]:
    """(transactions, sessions) of one database so far. An idle backend publishes its counts
    within 10 s (PostgreSQL's PGSTAT_IDLE_INTERVAL), so wait that long before reading."""
    time.sleep(10.5)
    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        xacts, sessions = c.execute("SELECT xact_commit + xact_rollback, sessions FROM pg_stat_database "
                                    "WHERE datname = %s", (dbname,)).fetchone()
    return xacts, sessions


def measure(server: Gunicorn, pg: PostgresCpu, fn, items: list, concurrency: int,
            settle: Callable[[], object] | None = None, transactions: bool = False) -> tuple[Window, list]:
    """``fn`` over ``items``; ``settle()`` (waiting for the work they started) is in the window;
    ``transactions``: count PostgreSQL's transactions and sessions too (20 s of waiting)."""
    counters = pg_counters(pg.dbname) if transactions else None
    cpu, before = server.cpu_seconds(), pg.snapshot()
    start = time.perf_counter()
    results, _ = drive(fn, items, concurrency)
    if settle:
        settle()
    wall = time.perf_counter() - start
    window = Window(len(items), wall, server.cpu_seconds() - cpu, PostgresCpu.delta(before, pg.snapshot()))
    if counters:
        after = pg_counters(pg.dbname)
        window.transactions, window.sessions = after[0] - counters[0], after[1] - counters[1]
    return window, results


# ---- against gunicorn -----------------------------------------------------------------

def enroll(fleet: Fleet, apns: FakeAPNs) -> dict:
    """Enroll every device, let the enrollment pushes land, answer the inventory commands."""
    keygen = fleet.make_keys_ahead()
    pushed = len(apns.pushes)
    fleet.enroll_all()
    summary = fleet.summary()
    if summary["failed"]:
        raise BenchError(f"{summary['failed']} enrollments failed: {summary['errors']}")
    try:
        apns.wait_for_pushes(pushed + summary["enrolled"], timeout=60)
    except TimeoutError as exc:
        print(f"  warning  enrollment pushes: {exc}")
    fleet.connect_all(1)  # DeviceInformation and SecurityInfo, queued at enrollment
    before = dict(fleet.request_types)
    fleet.connect_all(1)
    if fleet.request_types != before or not before:
        raise BenchError(f"the queues are not empty after one round: {fleet.request_types} (was {before})")
    return {**summary, "keygen": keygen, "drained": before}


def use_identity(fleet: Fleet, mode: str, concurrency: int) -> None:
    """Switch every device to ``mode`` with a fresh HTTP client (the previous server is gone)."""
    old, fleet.client = fleet.client, httpx.Client(timeout=30, limits=httpx.Limits(
        max_connections=2 * concurrency, max_keepalive_connections=2 * concurrency))
    for device in fleet.devices:
        device.client, device.identity_mode = fleet.client, mode
    old.close()


def measure_mode(server: Gunicorn, pg: PostgresCpu, fleet: Fleet, args) -> dict:
    """/healthz (half), the idle connects, /healthz (the other half): same client, same threads."""
    healthz_url = f"{server.base_url}/healthz"

    def healthz(_):
        return fleet.client.get(healthz_url).status_code

    drive(healthz, range(500), args.concurrency)  # warm up
    devices = [fleet.devices[i % len(fleet.devices)] for i in range(args.connects)]
    errors_before = sum(len(d.errors) for d in fleet.devices)
    h1, codes1 = measure(server, pg, healthz, list(range(args.connects // 2)), args.concurrency)
    connects, handled = measure(server, pg, fleet.connect_device, devices, args.concurrency, transactions=True)
    h2, codes2 = measure(server, pg, healthz, list(range(args.connects - args.connects // 2)), args.concurrency)
    paced, codes3 = measure(server, pg, paced_at(healthz, connects.n / connects.wall),
                            list(range(args.connects // 2)), args.concurrency)
    errors = sum(len(d.errors) for d in fleet.devices) - errors_before
    if any(handled) or errors or set(codes1 + codes2 + codes3) != {200}:
        raise BenchError(f"connects were not all idle and clean: {sum(map(bool, handled))} handled commands, "
                         f"{errors} device errors, /healthz statuses {set(codes1 + codes2 + codes3)}")
    return {"healthz": (h1, h2), "connects": connects, "paced": paced}


def paced_at(fn: Callable[[int], object], rate: float) -> Callable[[int], object]:
    """``fn(i)`` no earlier than ``i / rate`` seconds after the first call: gunicorn's CPU per
    request rises as its request rate falls (fewer requests per wake-up), so a connect slowed
    by its client (Mdm-Signature: the simulator signs every message) is also compared with
    /healthz at the connects' own rate."""
    start: list[float] = []

    def call(i: int):
        if not start:
            start.append(time.perf_counter())
        delay = start[0] + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        return fn(i)
    return call


def run(args, apns: FakeAPNs, push_dir: Path) -> None:
    """Enroll once, then per mode: gunicorn with that mode's settings, measure, profile in-process."""
    with bench_database() as database_url, workdir("espalier-bench-connect-") as tmp:
        port, secret_key = free_port(), os.urandom(32).hex()

        def settings_for(mode: str) -> Path:
            return write_settings(tmp, database_url, port, mtls_proxy=mode == "mtls", secret_key=secret_key,
                                  apns={"host": apns.host, "port": apns.port, "ca_file": apns.server_ca_file})

        settings = settings_for(args.modes[0])
        espalier(settings, "db", "upgrade")
        secret = bench_enrollment(settings, push_dir)
        pg = PostgresCpu(database_url.rsplit("/", 1)[1])
        with Fleet(f"http://127.0.0.1:{port}", secret, args.devices, "mac", workers=args.concurrency) as fleet:
            for mode in args.modes:
                settings = settings_for(mode)
                use_identity(fleet, mode, args.concurrency)
                with Gunicorn(settings, port, workers=args.workers, threads=args.threads) as server:
                    if not fleet.enrolled:
                        report_enrollment(enroll(fleet, apns), args.concurrency)
                    else:
                        fleet.connect_all(1)  # warm the new workers' trust caches and pools
                    result = measure_mode(server, pg, fleet, args)
                report(mode, result)
                if args.profile_connects:
                    print_profile(profile_in_process(settings, fleet.devices, args.profile_connects), args.top)


# ---- the same connects in-process, profiled --------------------------------------------

class Meter:
    """WSGI middleware: the thread CPU of each call (the app runs in the caller's thread)."""

    def __init__(self, app) -> None:
        self.app, self.cpu, self.calls, self.profiler = app, 0.0, 0, None

    def __call__(self, environ, start_response):
        start = time.thread_time()
        if self.profiler:
            self.profiler.enable()
        try:
            result = self.app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        finally:
            if self.profiler:
                self.profiler.disable()
            self.cpu += time.thread_time() - start
            self.calls += 1
        return [body]

    def run(self, fn, n: int) -> float:
        """CPU per call of the app over ``n`` calls of ``fn(i)``."""
        self.cpu, self.calls = 0.0, 0
        for i in range(n):
            fn(i)
        return self.cpu / max(self.calls, 1)


def profile_in_process(settings: Path, devices: list, n: int) -> dict:
    from espalier.app import create_app
    from espalier.settings import load

    app = create_app(load(str(settings)))
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the runtime configured logging at INFO
    meter = Meter(app)
    try:
        with httpx.Client(transport=httpx.WSGITransport(app=meter), base_url="http://127.0.0.1") as client:
            for device in devices:
                device.client = client
                device.connect()  # warm the trust cache and the pool
            healthz = meter.run(lambda _: client.get("/healthz"), n)
            plain = meter.run(lambda i: devices[i % len(devices)].connect(), n)
            meter.profiler = cProfile.Profile(time.thread_time)
            profiled = meter.run(lambda i: devices[i % len(devices)].connect(), n)
    finally:
        app.extensions["espalier"].close()
    return {"healthz": healthz, "connect": plain, "profiled": profiled, "n": n,
            "stats": pstats.Stats(meter.profiler)}


def _where(key: tuple[str, int, str]) -> str:
    path, line, func = key
    for marker in ("site-packages/", "/server/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{func} ({path}:{line})" if line else func


def print_profile(profile: dict, top: int) -> None:
    n = profile["n"]
    print(f"  in-process (no gunicorn, no HTTP), {n} sequential connects, thread CPU:")
    print(f"    connect {ms(profile['connect'])}  /healthz {ms(profile['healthz'])}  "
          f"ratio {ratio(profile['connect'], profile['healthz'])}  (under cProfile: {ms(profile['profiled'])})")
    print_top(profile["stats"], n, top, "connect")


def print_top(stats: pstats.Stats, n: int, top: int, unit: str) -> None:
    """The ``top`` entries by cumulative and by self CPU, per ``unit`` (``n`` of them profiled)."""
    rows = [(ct, tt, nc, key) for key, (_cc, nc, tt, ct, _callers) in stats.stats.items()]
    for title, index in (("cumulative", 0), ("self", 1)):
        print(f"    top {top} by {title} CPU (per {unit}, profiled):   cum       self   calls")
        for row in sorted(rows, key=lambda r: r[index], reverse=True)[:top]:
            print(f"      {row[0] / n * 1000:8.3f} ms {row[1] / n * 1000:8.3f} ms {row[2] / n:7.1f}  {_where(row[3])}")


# ---- main -----------------------------------------------------------------------------

def report_enrollment(e: dict, concurrency: int) -> None:
    drained = ", ".join(f"{k} {v}" for k, v in sorted(e["drained"].items()))
    print(f"enroll     {e['enrolled']} devices, {e['enrollments_per_s']:.1f}/s, {concurrency} "
          f"at once (keys made ahead in {e['keygen']:.1f} s), p50 {ms(e['enroll_seconds']['p50'])}; "
          f"then answered {drained}")


def report(mode: str, result: dict) -> None:
    (h1, h2), c = result["healthz"], result["connects"]
    healthz_cpu = (h1.server_cpu + h2.server_cpu) / (h1.n + h2.n)
    print(f"mode {mode}: " + ("X-SSL-Client-Cert headers, mtls_proxy: true" if mode == "mtls"
                              else "Mdm-Signature on every message, mtls_proxy: false"))
    for label, w in (("/healthz", h1), ("connect", c), ("/healthz", h2)):
        print(f"  {label:<8} {w.n} in {w.wall:.1f} s, {w.n / w.wall:.0f}/s; server CPU {ms(w.cpu_per_request)}"
              f"/request (PostgreSQL backends {ms(w.pg_cpu / w.n)})")
    print(f"  PostgreSQL per connect: {c.transactions / c.n:.2f} transactions, {c.sessions / c.n:.3f} sessions "
          f"opened (pg_stat_database)")
    paced = result["paced"]
    print(f"  /healthz {paced.n} at the connects' rate in {paced.wall:.1f} s, {paced.n / paced.wall:.0f}/s; server CPU "
          f"{ms(paced.cpu_per_request)}/request: per connect / per /healthz at the same rate = "
          f"{ratio(c.cpu_per_request, paced.cpu_per_request)}")
    total = c.cpu_per_request + c.pg_cpu / c.n
    print(f"  FIGURE   server CPU per connect {ms(c.cpu_per_request)} / per /healthz {ms(healthz_cpu)} = "
          f"{ratio(c.cpu_per_request, healthz_cpu)}; with PostgreSQL {ms(total)} = {ratio(total, healthz_cpu)} "
          f"(targets: <= 2.5x, <= 1.0 ms with PostgreSQL); {c.n / c.wall:.0f} connects/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--connects", type=int, default=5000)
    parser.add_argument("--modes", default="mtls,signature", help="comma-separated: mtls, signature")
    parser.add_argument("--profile-connects", type=int, default=500, help="in-process profiled connects (0: none)")
    add_server_arguments(parser, top=15, timeout=900)
    args = parser.parse_args()
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not args.modes or set(args.modes) - {"mtls", "signature"}:
        parser.error("--modes takes mtls and/or signature")
    stop_on_signals(args.timeout)

    return run_with_apns(args, f"connect benchmark: {args.devices} Macs, {args.connects} idle connects per mode", run)


def add_server_arguments(parser: argparse.ArgumentParser, *, top: int, timeout: float) -> None:
    """What the gunicorn benchmarks share: client threads, gunicorn's shape, profile rows, watchdog."""
    parser.add_argument("--concurrency", type=int, default=16, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    parser.add_argument("--top", type=int, default=top, help="profile entries shown")
    parser.add_argument("--timeout", type=float, default=timeout, help="give up (and clean up) after this many seconds")


def run_with_apns(args, title: str, run_fn: Callable) -> int:
    """Print the header (``title``, the client and gunicorn shape, the load), then
    ``run_fn(args, apns, push_dir)`` beside the stand-in APNs."""
    print(f"Espalier {title}, {args.concurrency} client threads, gunicorn {args.workers} workers x {args.threads} "
          f"threads, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}, {load_average()}")
    with fake_apns() as (apns, push_dir):
        run_fn(args, apns, push_dir)
    return 0


if __name__ == "__main__":
    run_main(main)
