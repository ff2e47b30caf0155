"""Open-loop rate steps: each device connects on an interval, arrivals never wait for answers.

Latency runs from the scheduled time, so a server (or client) falling behind shows in it;
the client's own lag is printed apart. A share of the arrivals queue a command through the
API instead: the push wakes the device through the fake APNs, as a real one is woken.
"""
from __future__ import annotations

import heapq
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from capacity import Costs
from common import ms, ratio
from load_sampler import Meters, Sample, Sampler, wait_drained
from load_stack import TimedFleet, queue_command

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
    pool = ThreadPoolExecutor(args.clients, thread_name_prefix="bench-load")
    try:
        while arrivals[0][0] < end:
            at, i = heapq.heappop(arrivals)
            time.sleep(max(0.0, at - time.monotonic()))
            device = devices[i]
            if rng.random() < args.command_share and id(device) not in fleet.awaiting:
                pool.submit(command, device, at)
            else:
                pool.submit(connect, device, at)
            heapq.heappush(arrivals, (at + interval * rng.uniform(1 - args.jitter, 1 + args.jitter), i))
    except BaseException:  # Ctrl-C, SIGTERM, the watchdog: drop the backlog, let the cleanups run
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)  # the arrivals sent so far are answered
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
    web, pg = step.per_session("web"), step.per_session("pg")
    print(f"  server CPU per connect session ({n}): web {ms(web)} ({ratio(web, costs.healthz_web)} of /healthz), "
          f"PostgreSQL {ms(pg)}, "
          f"worker {ms(c['worker'] / max(1, len(step.api)))} per command; cores busy: web {c['web'] / step.wall:.2f}, "
          f"PostgreSQL {c['pg'] / step.wall:.2f}, worker {c['worker'] / step.wall:.2f}, "
          f"bench client {c['client'] / step.wall:.2f}")
    predicted = model_cpu(step, costs)
    print(f"  measured / modelled CPU (this step's work at the calibration costs): "
          f"web {ratio(c['web'], predicted[0])}, PostgreSQL {ratio(c['pg'], predicted[1])}")
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


def model_cpu(step: Step, c: Costs) -> tuple[float, float]:
    """(web, PostgreSQL) CPU seconds the calibration costs predict for what the step did."""
    commands, answered = len(step.api), len(step.answered)
    idle = step.sessions - answered
    return (idle * c.idle_web + answered * c.session_web + commands * c.queue_web,
            idle * c.idle_pg + answered * c.session_pg + commands * c.queue_pg)


def breaks(step: Step, limit: float) -> bool:
    arrivals = (len(step.latency) + len(step.api)) / step.duration
    return pct(step.latency, .99) > limit or arrivals < 0.95 * step.rate or step.errors > 0 or not step.drained


def print_summary(steps: list[Step], limit: float) -> None:
    print(f"\n| target/s | arrivals/s | p50 | p99 | max | web ms/connect | PostgreSQL ms/connect | web cores busy "
          f"| PG conns max | RQ waiting max | RSS web end MiB | p99 <= {limit * 1000:.0f} ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for st in steps:
        s = st.samples
        arrivals = (len(st.latency) + len(st.api)) / st.duration
        print(f"| {st.rate:.0f} | {arrivals:.0f} | {pct(st.latency, .5) * 1e3:.1f} | {pct(st.latency, .99) * 1e3:.1f} "
              f"| {max(st.latency, default=0) * 1e3:.0f} "
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
