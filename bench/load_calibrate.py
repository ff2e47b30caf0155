"""Calibration: CPU per unit of work (the capacity model's inputs), closed loop.

Windows of ``--calibrate`` requests from 8 threads: GET /healthz (the baseline), idle
connects, commands queued through the API while the devices sleep (the API request and
the push job), the sessions of those devices, and one notify of every device (a fan-out).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx

from capacity import Costs
from common import BenchError, drive, ms, ratio
from load_sampler import Meters, Sampler, wait_drained
from load_stack import COMMAND, PUSH_MIN_INTERVAL, TimedFleet, queue_command

if TYPE_CHECKING:
    from fakes.apns import FakeAPNs


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

    def asleep(name, n, action):
        """A window while the devices sleep: ``action()`` makes ``n`` pushes; it ends when they
        all reached the fake APNs and the queues are empty."""
        apns.on_push = None
        pushed, before, t0 = len(apns.pushes), meters.read(), time.monotonic()
        result = action()
        try:
            apns.wait_for_pushes(pushed + n, timeout=60)
        except TimeoutError as exc:
            raise BenchError(f"calibration, {name}: the pushes did not all arrive ({result!r:.200}): {exc}") from None
        wait_drained(sampler, fleet, 30)
        windows[name] = {"n": n, "wall": time.monotonic() - t0, **Meters.spent(before, meters.read())}
        apns.on_push = fleet.push_callback
        return result

    codes = window("healthz", lambda _: fleet.client.get(healthz).status_code, range(n))
    handled = window("idle", fleet.connect_device, [fleet.devices[i % len(fleet.devices)] for i in range(n)])
    if set(codes) != {200} or any(handled):
        raise BenchError(f"calibration: /healthz {set(codes)}, {sum(map(bool, handled))} connects not idle")

    time.sleep(PUSH_MIN_INTERVAL)  # since the enrollment pushes: a push now is not deferred
    woken = fleet.devices[:min(n // 4, len(fleet.devices))]  # commands queued, pushed; nobody connects yet
    statuses = asleep("queue", len(woken), lambda: drive(lambda d: queue_command(api, ids[d.facts.udid]),
                                                         woken, threads)[0])
    handled = window("session", fleet.connect_device, woken)
    if set(statuses) != {201} or any(h != [(COMMAND, "Acknowledged")] for h in handled):
        raise BenchError(f"calibration: API statuses {set(statuses)}, sessions {handled[:3]}")

    time.sleep(PUSH_MIN_INTERVAL)  # the devices just pushed may be pushed again
    # one notify of every device: the fan-out a blueprint change starts
    asleep("fanout", len(ids), lambda: api.post("/api/mdm/devices/notify/", json={"devices": sorted(ids.values())}))
    time.sleep(PUSH_MIN_INTERVAL)  # a command for these devices now would wait that long for its push

    per = {k: {p: w[p] / w["n"] for p in ("web", "worker", "pg", "client")} for k, w in windows.items()}
    costs = Costs(healthz_web=per["healthz"]["web"], idle_web=per["idle"]["web"], idle_pg=per["idle"]["pg"],
                  queue_web=per["queue"]["web"], queue_pg=per["queue"]["pg"], push_worker=per["queue"]["worker"],
                  session_web=per["session"]["web"], session_pg=per["session"]["pg"],
                  fanout_worker=per["fanout"]["worker"], fanout_pg=per["fanout"]["pg"],
                  pg_conns_per_web=0.0, pg_conns_per_worker=0.0)  # set from every sample at the end
    return costs, windows


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
