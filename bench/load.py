"""Load: simulated devices connecting at target rates against gunicorn + PostgreSQL + Redis.

    .venv/bin/python bench/load.py [--devices 500] [--rates 25,50,100,200] [--duration 20]
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

The parts: ``load_stack.py`` (workers, Redis, settings), ``load_calibrate.py``,
``load_steps.py``, ``capacity.py`` (the model). Sampled every second (``load_sampler.py``):
PostgreSQL connections held (by state), RQ jobs waiting and running, RSS and CPU of gunicorn
and the workers, CPU of the PostgreSQL backends. Printed per step: p50/p95/p99/max latency,
server CPU per connect (web, PostgreSQL, worker), cores busy, connections held, the queue
over time, RSS, and ratios to baselines of the same run (CPU per ``/healthz``; p99 at the
lowest rate). Then where p99 breaks, and the capacity tables ``docs/capacity.md`` quotes.
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from capacity import print_capacity
from common import (REPO, Gunicorn, PostgresCpu, bench_database, bench_enrollment, fake_apns, free_port,
                    load_average, prepare_server, run_main, stop_on_signals, workdir)
from connect import enroll, report_enrollment, use_identity
from load_calibrate import calibrate, print_calibration
from load_sampler import Meters, Sampler
from load_stack import TimedFleet, Workers, device_ids, redis_database, settings_with_redis
from load_steps import pct, print_step, print_summary, run_step

if TYPE_CHECKING:
    from fakes.apns import FakeAPNs


def run(args, apns: FakeAPNs, push_dir: Path) -> None:
    with bench_database() as database_url, workdir("espalier-bench-load-") as tmp, \
            redis_database(args.redis_url) as redis_url:
        port = free_port()
        settings = settings_with_redis(tmp, database_url, port, apns, redis_url)
        key = prepare_server(settings)
        secret = bench_enrollment(settings, push_dir)
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
            print_capacity(costs, args.headroom, args.source)


def commit() -> str:
    done = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return (done.stdout.strip() or "?") + (" (modified)" if dirty else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--rates", default="25,50,100,200", help="connects/s, comma-separated, one step each")
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
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    args.source = (f"bench/load.py, {when} UTC, commit {commit()}, {os.cpu_count()} CPUs, {args.devices} devices, "
                   f"{load_average()} at the start")

    print(f"Espalier load benchmark: {args.devices} Macs, rates {', '.join(f'{r:.0f}' for r in args.rates)}/s x "
          f"{args.duration:.0f} s, {args.command_share:.0%} commands, gunicorn {args.workers} workers x "
          f"{args.threads} threads, {args.rq_workers} espalier worker(s), {args.clients} client threads; "
          f"{os.cpu_count()} CPUs, {when} UTC, commit {commit()}, {load_average()}")
    with fake_apns() as (apns, push_dir):
        run(args, apns, push_dir)
    print(f"done, {load_average()}")
    return 0


if __name__ == "__main__":
    run_main(main)
