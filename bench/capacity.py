"""The capacity model: devices per core, from CPU costs measured in one run of ``load.py``.

``docs/capacity.md`` quotes what ``print_capacity`` prints, so the doc's figures are
re-measured by running ``bench/load.py --capacity`` again, never edited by hand.

A device is not polled: it connects when a push wakes it (for a command, or a re-notify of
a pending one) and on some events of its own (boot, network change, conditions a NotNow
waited for). So the rate of connects is the server's choice, and a scenario states it: how
many connects per device per hour, and which share of them carries a command (the server
queued it, pushed the device, the device fetched it and answered; the others are idle).
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Costs:
    """CPU seconds measured per unit of work (calibration windows of ``load.py``)."""

    healthz_web: float  # GET /healthz: the HTTP floor of the web tier
    idle_web: float  # an idle connect (Idle PUT, empty answer)
    idle_pg: float
    queue_web: float  # POST of one command through the API (the web request only)
    queue_pg: float  # that request's statements and the push job's
    push_worker: float  # the push job for one device in `espalier worker` (RQ, select, APNs, record)
    session_web: float  # the woken device's session: Idle -> the command, its result -> empty
    session_pg: float
    fanout_worker: float  # one device of a notify job pushing every device (one job, one connection)
    fanout_pg: float
    pg_conns_per_web: float  # PostgreSQL connections held at most per gunicorn worker process
    pg_conns_per_worker: float  # ... per espalier worker


@dataclass(frozen=True)
class Scenario:
    name: str
    connects_per_hour: float  # per device
    command_share: float  # connects that carry a command


SCENARIOS = (
    Scenario("daily: one inventory push a day", 1 / 24, 1.0),
    Scenario("hourly: one connect an hour, 1 in 4 with a command", 1, 0.25),
    Scenario("busy: 4 connects an hour, 1 in 4 with a command", 4, 0.25),
    Scenario("chatty: 12 connects an hour (every 5 min), 1 in 10 with a command", 12, 0.10),
)
LAYOUT_SCENARIO = 2  # the busy fleet: the layouts are sized for it
FLEETS = (10_000, 50_000, 100_000, 500_000)


def per_connect(c: Costs, s: Scenario) -> tuple[float, float, float]:
    """Mean CPU seconds per connect: (web, worker, PostgreSQL)."""
    f = s.command_share
    return ((1 - f) * c.idle_web + f * (c.queue_web + c.session_web),
            f * c.push_worker,
            (1 - f) * c.idle_pg + f * (c.queue_pg + c.session_pg))


def devices_per_core(cost: float, s: Scenario) -> float:
    """Devices one core serves when fully busy with this scenario's connects."""
    return math.inf if cost <= 0 else 3600 / (s.connects_per_hour * cost)


def _fmt(n: float) -> str:
    return "n/a" if math.isinf(n) else f"{n:,.0f}"


def print_costs(c: Costs) -> None:
    print("| unit of work | web | worker | PostgreSQL | web / `GET /healthz` |")
    print("|---|---|---|---|---|")
    rows = (("`GET /healthz` (the baseline)", c.healthz_web, 0.0, 0.0),
            ("idle connect (one request)", c.idle_web, 0.0, c.idle_pg),
            ("command queued through the API, and its push job", c.queue_web, c.push_worker, c.queue_pg),
            ("the woken session (Idle -> command, result -> empty)", c.session_web, 0.0, c.session_pg),
            ("**command contact** (the two above)", c.queue_web + c.session_web, c.push_worker,
             c.queue_pg + c.session_pg),
            ("one device of a notify fan-out (one job for all)", 0.0, c.fanout_worker, c.fanout_pg))
    for name, web, worker, pg in rows:
        versus = f"{web / c.healthz_web:.1f}x" if web and c.healthz_web else "-"
        print(f"| {name} | {web * 1e3:.2f} ms | {worker * 1e3:.2f} ms | {pg * 1e3:.2f} ms | {versus} |")


def print_capacity(c: Costs, headroom: float, source: str) -> None:
    """The tables docs/capacity.md quotes (markdown), after the run they come from."""
    print(f"\nCosts: CPU per unit of work ({source})\n")
    print_costs(c)
    print("\nDevices per core, fully busy\n")
    print("| scenario | connects/s per 1,000 devices | web ms/connect | worker ms/connect | PostgreSQL ms/connect "
          "| devices per web core | per worker core | per PostgreSQL core |")
    print("|---|---|---|---|---|---|---|---|")
    for s in SCENARIOS:
        web, worker, pg = per_connect(c, s)
        print(f"| {s.name} | {s.connects_per_hour * 1000 / 3600:.2f} | {web * 1e3:.2f} | {worker * 1e3:.2f} | "
              f"{pg * 1e3:.2f} | {_fmt(devices_per_core(web, s))} | {_fmt(devices_per_core(worker, s))} | "
              f"{_fmt(devices_per_core(pg, s))} |")
    s = SCENARIOS[LAYOUT_SCENARIO]
    web, worker, pg = per_connect(c, s)
    print(f"\nLayout for the busy fleet, cores kept at most {headroom:.0%} busy "
          "(one gunicorn worker process per web core; one espalier worker per worker core):\n")
    print("| devices | connects/s | web cores | worker cores | PostgreSQL cores | PostgreSQL connections "
          "| everyone woken at once (a blueprint change): web cores busy for |")
    print("|---|---|---|---|---|---|---|")
    for n in FLEETS:
        rate = n * s.connects_per_hour / 3600
        cores = [max(1, math.ceil(rate * cost / headroom)) for cost in (web, worker, pg)]
        conns = math.ceil(cores[0] * c.pg_conns_per_web + cores[1] * c.pg_conns_per_worker)
        burst = n * c.session_web / cores[0] / 60  # minutes; the pushes run on the workers meanwhile
        pushes = n * c.fanout_worker / cores[1] / 60
        print(f"| {n:,} | {rate:,.0f} | {cores[0]} | {cores[1]} | {cores[2]} | {conns} | {burst:.1f} min "
              f"(pushes {pushes:.1f} min) |")
    print(f"\nPostgreSQL connections: {c.pg_conns_per_web:.0f} per gunicorn worker process (its threads; "
          "each holds at most one), "
          f"{c.pg_conns_per_worker:.0f} per espalier worker (measured); one Redis serves them all "
          "(a push job is a few Redis round trips).")
