"""Load: simulated devices connecting at target rates against gunicorn + PostgreSQL + Redis.

    .venv/bin/python bench/load.py [--devices 500] [--rates 50,100,200] [--duration 20]
                                   [--command-share 0.05] [--capacity]

A fresh PostgreSQL database, Redis database 14 (flushed before and after), gunicorn with
``redis_url`` (jobs go to RQ), ``--rq-workers`` ``espalier worker`` processes, the fake APNs
on 127.0.0.1 and ``--devices`` simulated Macs enrolled once (keys made ahead; mTLS headers
as behind nginx). Then:

1. **Calibration** (closed loop, a few client threads): ``GET /healthz`` (the baseline),
   idle connects, commands queued through the API while the devices sleep (the API request
   and the push job, on the worker, to the fake APNs), and the sessions of the pushed
   devices (Idle -> the command -> its result). CPU per unit of work for gunicorn, the
   workers and the PostgreSQL backends: the capacity model's inputs (``capacity.py``).
2. **Rate steps** (open loop, skipped with ``--capacity``): each device connects on an
   interval of ``devices / rate`` seconds with +-``--jitter`` jitter, for ``--duration``
   seconds per rate. Arrivals do not wait for answers, so latency under load is honest: it
   runs from the scheduled time (client lag included, and printed). At ``--command-share``
   of the arrivals a command is queued through the API instead; the push wakes the device
   through the fake APNs and it connects, as a real one does.

Sampled every second (``load_sampler.py``): PostgreSQL connections held (by state), RQ jobs
waiting and running, RSS and CPU of gunicorn and the workers, CPU of the PostgreSQL backends.
Printed per step: p50/p95/p99/max latency, server CPU per connect (web, PostgreSQL, worker),
cores busy, connections held, the queue over time, RSS, and ratios to baselines of the same
run (CPU per ``/healthz``; p99 at the lowest rate). Then where p99 breaks, and the capacity
tables ``docs/capacity.md`` quotes.
"""
from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import os
import random
import resource
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from capacity import Costs, print_capacity
from common import (BIN, REPO, BenchError, Gunicorn, PostgresCpu, bench_database, cpu_seconds, drive, espalier,
                    free_port, load_average, ms, prepare_server, ratio, stop_on_signals, workdir, write_settings)
from connect import enroll, report_enrollment, use_identity
from load_sampler import Sample, Sampler

from espalier.sim.fleet import Fleet

sys.path.insert(0, str(REPO / "tests"))
from fakes.apns import FakeAPNs  # noqa: E402
from fakes.push_certs import make_ca, make_push_cert  # noqa: E402

COMMAND = "DeviceInformation"  # what the API queues: the simulator answers it, Acknowledged
PUSH_MIN_INTERVAL = 5.5  # s: tasks.push pushes a device at most every 5 s (later pushes are deferred)


# ---- the stack ------------------------------------------------------------------------

class TimedFleet(Fleet):
    """A fleet that times each command from its API request to the device's answer."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.awaiting: dict[int, float] = {}  # id(device) -> when the command was requested
        self.answered: list[float] = []  # seconds from request to Acknowledged

    def connect_device(self, device):
        handled = super().connect_device(device)
        if (COMMAND, "Acknowledged") in handled:
            since = self.awaiting.pop(id(device), None)
            if since is not None:
                self.answered.append(time.monotonic() - since)
        return handled


class Workers:
    """``espalier worker`` processes (RQ, no fork per job), stopped by pid on exit."""

    def __init__(self, settings: Path, n: int, redis_url: str) -> None:
        self.settings, self.n, self.redis_url = settings, n, redis_url
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> Workers:
        from redis import Redis
        from rq import Worker

        try:
            for i in range(self.n):
                with (self.settings.parent / f"worker-{i}.log").open("wb") as log:
                    self.procs.append(subprocess.Popen([str(BIN / "espalier"), "--settings", str(self.settings),
                                                        "worker"], stdout=log, stderr=subprocess.STDOUT))
            with Redis.from_url(self.redis_url) as redis:
                deadline = time.monotonic() + 60
                while Worker.count(connection=redis) < self.n:
                    if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                        raise BenchError(f"espalier worker not ready:\n{self.log_tail()}")
                    time.sleep(0.2)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()  # RQ finishes the current job on SIGTERM
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.poll() is None]

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids())

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join("\n".join(p.read_text(errors="replace").splitlines()[-lines:])
                         for p in sorted(self.settings.parent.glob("worker-*.log")))


@contextlib.contextmanager
def redis_database(url: str):
    """The bench's Redis database, empty before and after."""
    from redis import Redis

    with Redis.from_url(url) as redis:
        redis.flushdb()
        try:
            yield url
        finally:
            redis.flushdb()


@dataclass
class Meters:
    """CPU of every server part, read at once: a window's cost is the difference of two."""

    server: Gunicorn
    workers: Workers
    pg: PostgresCpu

    def read(self) -> tuple[float, float, dict, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return (self.server.cpu_seconds(), self.workers.cpu_seconds(), self.pg.snapshot(),
                usage.ru_utime + usage.ru_stime)

    @staticmethod
    def spent(before, after) -> dict[str, float]:
        return {"web": after[0] - before[0], "worker": after[1] - before[1],
                "pg": PostgresCpu.delta(before[2], after[2]), "client": after[3] - before[3]}


def wait_drained(sampler: Sampler, fleet: Fleet, timeout: float) -> bool:
    """Until no job waits or runs and no pushed device is still connecting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = sampler.sample()
        if s.queue_total == 0 and s.started == 0 and fleet.wait_for_pushes(0.2):
            return True
        time.sleep(0.2)
    return False


# ---- 1. calibration -------------------------------------------------------------------

def calibrate(args, meters: Meters, fleet: TimedFleet, api: httpx.Client, ids: dict, apns: FakeAPNs,
              sampler: Sampler) -> tuple[Costs, dict]:
    n, threads = args.calibrate, 8
    healthz = f"{meters.server.base_url}/healthz"
    drive(lambda _: fleet.client.get(healthz), range(200), threads)  # warm up
    fleet.connect_all(1)
    windows = {}

    def window(name, fn, items):
        before = meters.read()
        results, wall = drive(fn, items, threads)
        windows[name] = {"n": len(items), "wall": wall, **Meters.spent(before, meters.read())}
        return results

    codes = window("healthz", lambda _: fleet.client.get(healthz).status_code, range(n))
    handled = window("idle", fleet.connect_device, [fleet.devices[i % len(fleet.devices)] for i in range(n)])
    if set(codes) != {200} or any(handled):
        raise BenchError(f"calibration: /healthz {set(codes)}, {sum(map(bool, handled))} connects not idle")

    woken = fleet.devices[:min(n // 4, len(fleet.devices))]
    apns.on_push = None  # the devices sleep: the pushes are counted, nobody connects yet
    pushed = len(apns.pushes)
    before = meters.read()
    statuses, wall = drive(lambda d: queue_command(api, ids[d.facts.udid]), woken, threads)
    try:
        apns.wait_for_pushes(pushed + len(woken), timeout=60)
    except TimeoutError as exc:
        raise BenchError(f"calibration: the pushes did not all arrive: {exc}") from None
    wait_drained(sampler, fleet, 30)
    windows["queue"] = {"n": len(woken), "wall": wall, **Meters.spent(before, meters.read())}
    apns.on_push = fleet.push_callback
    handled = window("session", fleet.connect_device, woken)
    if set(statuses) != {201} or any(h != [(COMMAND, "Acknowledged")] for h in handled):
        raise BenchError(f"calibration: API statuses {set(statuses)}, sessions {handled[:3]}")

    time.sleep(PUSH_MIN_INTERVAL)  # the devices just pushed may be pushed again
    apns.on_push = None  # one notify of every device: the fan-out a blueprint change starts
    pushed, before, t0 = len(apns.pushes), meters.read(), time.monotonic()
    response = api.post("/api/mdm/devices/notify/", json={"devices": sorted(ids.values())})
    try:
        apns.wait_for_pushes(pushed + len(ids), timeout=60)
    except TimeoutError as exc:
        raise BenchError(f"calibration: notify {response.status_code}, the pushes did not all arrive: {exc}") from None
    wait_drained(sampler, fleet, 30)
    windows["fanout"] = {"n": len(ids), "wall": time.monotonic() - t0, **Meters.spent(before, meters.read())}
    apns.on_push = fleet.push_callback
    time.sleep(PUSH_MIN_INTERVAL)  # a command for these devices now would wait that long for its push

    per = {k: {p: w[p] / w["n"] for p in ("web", "worker", "pg", "client")} for k, w in windows.items()}
    costs = Costs(healthz_web=per["healthz"]["web"], idle_web=per["idle"]["web"], idle_pg=per["idle"]["pg"],
                  queue_web=per["queue"]["web"], queue_pg=per["queue"]["pg"], push_worker=per["queue"]["worker"],
                  session_web=per["session"]["web"], session_pg=per["session"]["pg"],
                  fanout_worker=per["fanout"]["worker"], fanout_pg=per["fanout"]["pg"],
                  pg_conns_per_web=0.0, pg_conns_per_worker=0.0)  # set from every sample at the end
    return costs, windows


def queue_command(api: httpx.Client, device_id: int) -> int:
    return api.post(f"/api/mdm/devices/{device_id}/commands/", json={"name": COMMAND}).status_code


def print_calibration(windows: dict, costs: Costs) -> None:
    labels = {"healthz": "GET /healthz (baseline)", "idle": "idle connect",
              "queue": f"{COMMAND} queued by the API + push job", "session": "woken session (Idle, result)",
              "fanout": "a device in one notify of every device"}
    print("calibration (closed loop, 8 client threads): CPU per unit")
    for name, w in windows.items():
        print(f"  {labels[name]:<46} {w['n']:>5} in {w['wall']:5.1f} s  web {ms(w['web'] / w['n'])}  "
              f"worker {ms(w['worker'] / w['n'])}  PostgreSQL {ms(w['pg'] / w['n'])}  "
              f"(bench client {ms(w['client'] / w['n'])})")
    print(f"  FIGURE web CPU per idle connect / per /healthz = {ratio(costs.idle_web, costs.healthz_web)}; "
          f"per command contact (API + push + session): web {ms(costs.queue_web + costs.session_web)}, "
          f"worker {ms(costs.push_worker)}, PostgreSQL {ms(costs.queue_pg + costs.session_pg)}")


# ---- 2. open-loop rate steps ----------------------------------------------------------

@dataclass
class Step:
    rate: float
    duration: float
    latency: list[float] = field(default_factory=list)  # scheduled -> answered, idle connects
    service: list[float] = field(default_factory=list)  # sent -> answered
    lag: list[float] = field(default_factory=list)  # scheduled -> sent: the client falling behind
    api: list[float] = field(default_factory=list)  # POST of a command
    answered: list[float] = field(default_factory=list)  # POST -> the device's Acknowledged
    woken: int = 0  # sessions the pushes started
    errors: int = 0
    drained: bool = True
    cpu: dict = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    wall: float = 0.0

    @property
    def sessions(self) -> int:
        return len(self.latency) + self.woken

    def per_session(self, part: str) -> float:
        return self.cpu[part] / max(1, self.sessions)


def run_step(args, rate: float, meters: Meters, fleet: TimedFleet, api: httpx.Client, ids: dict,
             sampler: Sampler, rng: random.Random) -> Step:
    """Each device connects every ``devices / rate`` s (+-jitter) for ``duration`` s; not waiting for answers."""
    step, lock = Step(rate, args.duration), threading.Lock()
    interval, devices = len(fleet.devices) / rate, fleet.devices
    connects_before, answered_before = fleet.connects, len(fleet.answered)
    errors_before = sum(len(d.errors) for d in devices)

    def connect(device, scheduled: float) -> None:
        sent = time.monotonic()
        fleet.connect_device(device)
        done = time.monotonic()
        with lock:
            step.latency.append(done - scheduled)
            step.service.append(done - sent)
            step.lag.append(sent - scheduled)

    def command(device, scheduled: float) -> None:
        sent = time.monotonic()
        fleet.awaiting[id(device)] = scheduled
        status = queue_command(api, ids[device.facts.udid])
        with lock:
            step.api.append(time.monotonic() - scheduled)
            step.lag.append(sent - scheduled)
            if status != 201:
                step.errors += 1

    start = time.monotonic() + 0.5
    end = start + args.duration
    arrivals = [(start + rng.uniform(0, interval), i) for i in range(len(devices))]
    heapq.heapify(arrivals)
    before = meters.read()
    with ThreadPoolExecutor(args.clients, thread_name_prefix="bench-load") as pool:
        while arrivals[0][0] < end:
            at, i = heapq.heappop(arrivals)
            time.sleep(max(0.0, at - time.monotonic()))
            device = devices[i]
            if rng.random() < args.command_share and id(device) not in fleet.awaiting:
                pool.submit(command, device, at)
            else:
                pool.submit(connect, device, at)
            heapq.heappush(arrivals, (at + interval * rng.uniform(1 - args.jitter, 1 + args.jitter), i))
    step.drained = wait_drained(sampler, fleet, 30)
    step.wall = time.monotonic() - start
    step.cpu = Meters.spent(before, meters.read())
    step.samples = sampler.between(start, time.monotonic())
    step.woken = fleet.connects - connects_before - len(step.latency)
    step.answered = fleet.answered[answered_before:]
    step.errors += sum(len(d.errors) for d in devices) - errors_before
    fleet.awaiting.clear()
    return step


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else float("nan")


def timings(values: list[float]) -> str:
    if not values:
        return "none"
    return (f"p50 {ms(pct(values, .5))} p95 {ms(pct(values, .95))} p99 {ms(pct(values, .99))} "
            f"max {ms(max(values))} ({len(values)})")


def over_time(samples: list[Sample], value, points: int = 12) -> str:
    if not samples:
        return "no samples"
    k = min(points, len(samples))
    picked = [samples[round(i * (len(samples) - 1) / max(1, k - 1))] for i in range(k)]
    t0 = samples[0].t
    return "  ".join(f"{s.t - t0:.0f}s:{value(s)}" for s in picked)


def print_step(step: Step, costs: Costs, baseline_p99: float | None) -> None:
    c, n = step.cpu, step.sessions
    achieved = len(step.latency) / step.duration + len(step.api) / step.duration
    print(f"\nrate {step.rate:.0f}/s for {step.duration:.0f} s: {len(step.latency)} scheduled connects + "
          f"{len(step.api)} commands queued ({achieved:.0f} arrivals/s), {step.woken} sessions woken by pushes, "
          f"{step.errors} errors{'' if step.drained else ', NOT drained after 30 s'}")
    print(f"  connect latency (from the scheduled time)  {timings(step.latency)}")
    print(f"  connect service time (from the send)       {timings(step.service)}")
    print(f"  client lag (scheduled -> sent)             p50 {ms(pct(step.lag, .5))} p99 {ms(pct(step.lag, .99))}")
    print(f"  API command POST                           {timings(step.api)}")
    print(f"  command requested -> device answered       {timings(step.answered)}")
    print(f"  server CPU per connect session ({n}): web {ms(step.per_session('web'))} "
          f"({ratio(step.per_session('web'), costs.healthz_web)} of /healthz), PostgreSQL {ms(step.per_session('pg'))}, "
          f"worker {ms(c['worker'] / max(1, len(step.api)))} per command; cores busy: web {c['web'] / step.wall:.2f}, "
          f"PostgreSQL {c['pg'] / step.wall:.2f}, worker {c['worker'] / step.wall:.2f}, "
          f"bench client {c['client'] / step.wall:.2f}")
    s = step.samples
    if s:
        held = [x.pg_held for x in s]
        active = max(x.pg_states.get("active", 0) for x in s)
        print(f"  PostgreSQL connections held: max {max(held)} mean {sum(held) / len(held):.1f} (web max "
              f"{max(x.pg_web for x in s)}, workers max {max(x.pg_worker for x in s)}, active at once max {active})")
        print(f"  RQ jobs waiting (running): {over_time(s, lambda x: f'{x.queue_total}({x.started})')}")
        print(f"  RSS MiB: web {s[0].rss_web:.0f} -> {s[-1].rss_web:.0f}, workers {s[0].rss_worker:.0f} -> "
              f"{s[-1].rss_worker:.0f}")
    if baseline_p99:
        print(f"  p99 / p99 at the lowest rate: {ratio(pct(step.latency, .99), baseline_p99)}")


def breaks(step: Step, limit: float) -> bool:
    arrivals = (len(step.latency) + len(step.api)) / step.duration
    return pct(step.latency, .99) > limit or arrivals < 0.95 * step.rate or step.errors > 0 or not step.drained


def print_summary(steps: list[Step], limit: float) -> None:
    print(f"\n| target/s | arrivals/s | p50 | p99 | max | web ms/connect | PostgreSQL ms/connect | web cores busy "
          f"| PG conns max | RQ waiting max | RSS web end MiB | p99 <= {limit * 1000:.0f} ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for st in steps:
        s = st.samples
        print(f"| {st.rate:.0f} | {(len(st.latency) + len(st.api)) / st.duration:.0f} | {pct(st.latency, .5) * 1e3:.1f} "
              f"| {pct(st.latency, .99) * 1e3:.1f} | {max(st.latency, default=0) * 1e3:.0f} "
              f"| {st.per_session('web') * 1e3:.2f} | {st.per_session('pg') * 1e3:.2f} | {st.cpu['web'] / st.wall:.2f} "
              f"| {max((x.pg_held for x in s), default=0)} | {max((x.queue_total for x in s), default=0)} "
              f"| {s[-1].rss_web if s else 0:.0f} | {'no' if breaks(st, limit) else 'yes'} |")
    broken = [st for st in steps if breaks(st, limit)]
    held = [st for st in steps if not breaks(st, limit)]
    if not broken:
        print(f"p99 held under {limit * 1000:.0f} ms at every rate (up to {steps[-1].rate:.0f}/s)")
    else:
        below = f"held at {max(st.rate for st in held):.0f}/s, " if held else ""
        print(f"p99 breaks: {below}broke at {broken[0].rate:.0f}/s (p99 > {limit * 1000:.0f} ms, arrivals behind "
              "the target, errors or an undrained queue)")


# ---- main -----------------------------------------------------------------------------

def device_ids(api: httpx.Client) -> dict[str, int]:
    response = api.get("/api/mdm/devices/")
    response.raise_for_status()
    return {d["udid"]: d["id"] for d in response.json()}


def settings_with_redis(tmp: Path, database_url: str, port: int, apns: FakeAPNs, redis_url: str) -> Path:
    """common.write_settings, plus Redis (jobs go to RQ) and a re-notify sweep that stays out of the windows."""
    path = write_settings(tmp, database_url, port, mtls_proxy=True,
                          apns={"host": apns.host, "port": apns.port, "ca_file": apns.server_ca_file})
    data = json.loads(path.read_text())
    data["redis_url"] = redis_url
    data["apps"]["espalier.mdm"]["sweeps"] = {"renotify_seconds": 600}
    path.write_text(json.dumps(data, indent=2))
    return path


def run(args, apns: FakeAPNs, push_dir: Path) -> None:
    with bench_database() as database_url, workdir("espalier-bench-load-") as tmp, \
            redis_database(args.redis_url) as redis_url:
        port = free_port()
        settings = settings_with_redis(tmp, database_url, port, apns, redis_url)
        key = prepare_server(settings)
        cert_id = espalier(settings, "push-certificate", "add", "--name", "Bench", "--certificate",
                           str(push_dir / "push.pem"), "--private-key", str(push_dir / "push.key")).split()[0]
        secret = espalier(settings, "enrollment", "create", "--name", "Bench", "--push-certificate", cert_id,
                          "--attestation", "none", "--quiet")
        base = f"http://127.0.0.1:{port}"
        with TimedFleet(base, secret, args.devices, "mac", workers=16) as fleet, \
                Gunicorn(settings, port, workers=args.workers, threads=args.threads) as server, \
                Workers(settings, args.rq_workers, redis_url) as workers, \
                httpx.Client(base_url=base, headers={"Authorization": f"Token {key}"}, timeout=60,
                             limits=httpx.Limits(max_connections=args.clients)) as api:
            use_identity(fleet, "mtls", args.clients)
            report_enrollment(enroll(fleet, apns), 16)
            ids = device_ids(api)
            meters = Meters(server, workers, PostgresCpu(database_url.rsplit("/", 1)[1]))
            with Sampler(meters.pg.dbname, redis_url, web=server.pids, workers=workers.pids) as sampler:
                costs, windows = calibrate(args, meters, fleet, api, ids, apns, sampler)
                print_calibration(windows, costs)
                steps, rng = [], random.Random(args.seed)
                for rate in ([] if args.capacity else args.rates):
                    steps.append(run_step(args, rate, meters, fleet, api, ids, sampler, rng))
                    print_step(steps[-1], costs, pct(steps[0].latency, .99) if len(steps) > 1 else None)
            if steps:
                print_summary(steps, args.p99_limit / 1000)
            samples = sampler.samples
            # each gunicorn thread holds at most one connection (pool_size 10): plan for the bound
            costs.pg_conns_per_web = max(args.threads, max((s.pg_web for s in samples), default=0) / args.workers)
            costs.pg_conns_per_worker = max((s.pg_worker for s in samples), default=0) / args.rq_workers
            print_capacity(costs, args.headroom)


def commit() -> str:
    done = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return (done.stdout.strip() or "?") + (" (modified)" if dirty else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--rates", default="50,100,200", help="connects/s, comma-separated, one step each")
    parser.add_argument("--duration", type=float, default=20, help="seconds per rate step")
    parser.add_argument("--jitter", type=float, default=0.2, help="+- share of each device's interval")
    parser.add_argument("--command-share", type=float, default=0.05, help="arrivals that queue a command")
    parser.add_argument("--calibrate", type=int, default=1000, help="requests per calibration window")
    parser.add_argument("--capacity", action="store_true", help="calibration and capacity tables only")
    parser.add_argument("--headroom", type=float, default=0.5, help="busiest share of a core the layout plans for")
    parser.add_argument("--p99-limit", type=float, default=500, help="ms: a step whose p99 is above breaks")
    parser.add_argument("--clients", type=int, default=64, help="client threads (the open loop's senders)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    parser.add_argument("--rq-workers", type=int, default=1, help="espalier worker processes")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14", help="flushed before and after")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900, help="give up (and clean up) after this many seconds")
    args = parser.parse_args()
    args.rates = sorted(float(r) for r in args.rates.split(",") if r.strip())
    if args.devices < 8 or not args.rates or min(args.rates) <= 0:
        parser.error("--devices >= 8 and positive --rates")
    stop_on_signals(args.timeout)

    print(f"Espalier load benchmark: {args.devices} Macs, rates {', '.join(f'{r:.0f}' for r in args.rates)}/s x "
          f"{args.duration:.0f} s, {args.command_share:.0%} commands, gunicorn {args.workers} workers x "
          f"{args.threads} threads, {args.rq_workers} espalier worker(s), {args.clients} client threads; "
          f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}, commit {commit()}, {load_average()}")
    with workdir("espalier-bench-push-") as push_dir:
        push_ca = make_ca("Stand-in Apple push CA")
        push_cert = make_push_cert(push_ca)
        (push_dir / "push.pem").write_bytes(push_cert.cert_pem)
        (push_dir / "push.key").write_bytes(push_cert.key_pem)
        with FakeAPNs(ca_file=push_ca.write_cert(push_dir / "push-ca.pem")) as apns:
            run(args, apns, push_dir)
    print(f"done, {load_average()}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        sys.exit(f"bench: {exc}")
