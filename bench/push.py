"""Push fan-out benchmark: one APNsClient notifies N devices through a stand-in APNs.

    .venv/bin/python bench/push.py [--devices 10000] [--rounds 3] [--baseline 500]
                                   [--baseline-concurrency 1] [--fake fast|checking] [--server]

The stand-in APNs runs in a process of its own, so client and fake each get a core. By
default it is tests/fakes/fast_apns.py (raw frames, every push answered 200, a fraction
of the client's CPU), so the client's figure is not set by waiting for the fake;
`--fake checking` uses tests/fakes/apns.py (h2, checks every push like Apple, ~200 us
of CPU per push: the client then idles between small batches). Measured:

(a) `APNsClient.push_many_sync` for all N targets over one connection, `--rounds` times
    on the same client: pushes/s, the client's CPU per push (user+sys of this process,
    which runs nothing else meanwhile), and the process's peak and current RSS after
    each round: flat from round to round. Each line has the load average: wall-clock
    rates drop when other work shares the machine; CPU per push much less so.
(b) the in-run baseline: the same pushes with one request per connection (TLS connect,
    HTTP/2 preface, one POST, close), as a naive client would. It reuses one SSLContext
    (the cheapest naive client) and runs `--baseline` pushes, not N: its rate is
    extrapolated to N, and said so. Printed: the ratios of rate and of CPU per push.
(c) with `--server`: the whole server path, `espalier.tasks.push.push` for N
    devices in a scratch PostgreSQL database (select, push, record), reported apart.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "server")]

from espalier.apple import apns  # noqa: E402
from espalier.apple.apns import APNsClient, PushTarget  # noqa: E402
from espalier.apple.h2client import Connection, H2Error, RequestTemplate  # noqa: E402
from fakes.apns import FakeAPNs  # noqa: E402
from fakes.fast_apns import FastAPNs  # noqa: E402
from fakes.push_certs import make_ca, make_push_cert  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def current_rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def load() -> str:
    return "load average " + " ".join(f"{n:.1f}" for n in os.getloadavg())


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_targets(count: int) -> list[PushTarget]:
    return [PushTarget(f"device-{n}", os.urandom(32).hex(), str(uuid.uuid4()).upper())
            for n in range(count)]


def bench_one_connection(fake, cert, targets: list[PushTarget], rounds: int) -> tuple[float, float, float]:
    """(best pushes/s, client CPU s per push, fake CPU s per push)."""
    client = APNsClient(cert.cert_pem, cert.key_pem, cert.topic, host=fake.host, port=fake.port,
                        verify=fake.server_ca_file)
    before = fake.stats()
    rates, cpus = [], []
    try:
        client.push_many_sync(targets[:1])  # connect + the warm-up push, outside the timing
        print(f"  before round 1: peak RSS {peak_rss_mib():.1f} MiB, current {current_rss_mib():.1f} MiB")
        for number in range(1, rounds + 1):
            started, cpu = time.perf_counter(), cpu_seconds()
            results = client.push_many_sync(targets)
            elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
            outcomes = {r.outcome for r in results}
            assert outcomes == {"sent"} and len(results) == len(targets), outcomes
            rates.append(len(targets) / elapsed)
            cpus.append(cpu / len(targets))
            print(f"  round {number}: {len(targets)} pushes in {elapsed:.3f} s = {rates[-1]:,.0f} pushes/s; "
                  f"client CPU {cpu / len(targets) * 1e6:.1f} us/push ({cpu / elapsed:.0%} of a core); "
                  f"peak RSS {peak_rss_mib():.1f} MiB, current {current_rss_mib():.1f} MiB; {load()}")
            del results
    finally:
        client.close()
    after = fake.stats()
    answered = after["pushes"] - before["pushes"]
    fake_cpu = (after["cpu_seconds"] - before["cpu_seconds"]) / answered
    print(f"  fake APNs: {answered} pushes answered over {after['connections'] - before['connections']} "
          f"connection(s), fake CPU {fake_cpu * 1e6:.0f} us/push")
    return max(rates), min(cpus), fake_cpu


def bench_connection_per_push(fake, cert, targets: list[PushTarget], concurrency: int) -> tuple[float, float]:
    """One TLS connection per push, `concurrency` of them at a time: (pushes/s, CPU s per push)."""
    context = apns._tls_context(cert.cert_pem, cert.key_pem, fake.server_ca_file)
    shape = RequestTemplate("POST", f"{fake.host}:{fake.port}", [
        ("apns-push-type", "mdm"), ("apns-topic", cert.topic), ("apns-priority", "10")])
    expiration = str(int(time.time()) + apns.DEFAULT_EXPIRATION).encode()

    async def push(target: PushTarget) -> int:
        body = b'{"mdm":"' + target.push_magic.encode() + b'"}'
        conn = await Connection.open(fake.host, fake.port, context, shape, 10.0)
        try:
            response = await conn.request([(b":path", b"/3/device/" + target.token_hex.encode()),
                                           (b"apns-expiration", expiration),
                                           (b"content-length", str(len(body)).encode())], body)
            return response.status
        finally:
            await conn.close()

    async def run() -> list[int]:
        queue = iter(targets)
        statuses: list[int] = []

        async def worker() -> None:
            for target in queue:
                try:
                    statuses.append(await push(target))
                except H2Error as exc:
                    statuses.append(0)
                    print("  baseline push failed:", exc)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return statuses

    started, cpu = time.perf_counter(), cpu_seconds()
    statuses = asyncio.run(run())
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    assert statuses.count(200) == len(targets), statuses
    rate = len(targets) / elapsed
    print(f"  {len(targets)} pushes, one connection each ({concurrency} at a time), in {elapsed:.3f} s "
          f"= {rate:,.0f} pushes/s; client CPU {cpu / len(targets) * 1e6:.0f} us/push; {load()}")
    return rate, cpu / len(targets)


def bench_server_path(fake, cert, ca, devices: int) -> None:
    """`tasks.push.push` for every device, on a scratch PostgreSQL database."""
    import psycopg
    from sqlalchemy import insert

    from espalier import runtime as runtime_mod
    from espalier.db import Database
    from espalier.models import EnrolledDevice
    from espalier.services import push_certificates
    from espalier.tasks import push
    from espalier.settings import from_mapping
    from espalier.tasks.queue import InProcessTaskQueue

    admin_url = os.environ.get("ESPALIER_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    name = f"espalier_bench_{os.getpid()}"
    plain = admin_url.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    rt = None
    try:
        secret = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
        db = Database(url)
        db.upgrade(secret_keys=[secret])
        db.dispose()
        settings = from_mapping({
            "base_url": "https://mdm.example.test", "database_url": url,
            "secret_keys": [secret],
            "log_level": "WARNING", "apps": {"espalier.mdm": {"apns": {
                "host": fake.host, "port": fake.port, "ca_file": fake.server_ca_file}}}})
        rt = runtime_mod.build(settings, queue=InProcessTaskQueue(sync=True))
        with rt.db.session() as s, s.begin():
            pc = push_certificates.add(s, rt.secrets, {"name": "Bench", "certificate": cert.cert_pem.decode(),
                                                       "private_key": cert.key_pem.decode()})
            pc_id, topic = pc.id, pc.topic
        rows = [dict(udid=str(uuid.uuid4()).upper(), serial_number=f"BENCH{n:07d}", name=f"Bench {n}",
                     model="Macmini9,1", platform="macOS", os_version="14.2.1", build_version="23C71",
                     apple_silicon=True, push_token=os.urandom(32).hex(),
                     push_magic=str(uuid.uuid4()).upper(), push_certificate_id=pc_id, topic=topic)
                for n in range(devices)]
        with rt.db.session() as s, s.begin():
            ids = list(s.scalars(insert(EnrolledDevice).returning(EnrolledDevice.id), rows))
        for number in (1, 2):
            started, cpu = time.perf_counter(), cpu_seconds()
            summary = push.push(rt, ids, force=True, reschedule=False)
            elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
            assert len(summary.sent) == devices, (len(summary.sent), summary.retry[:3])
            print(f"  push() round {number}: {devices} devices in {elapsed:.3f} s = "
                  f"{devices / elapsed:,.0f} devices/s (select, push, record); "
                  f"CPU {cpu / devices * 1e6:.0f} us/device; peak RSS {peak_rss_mib():.1f} MiB")
    finally:
        if rt is not None:
            rt.close()
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", type=int, default=500, help="pushes in the baseline (extrapolated)")
    parser.add_argument("--baseline-concurrency", type=int, default=1)
    parser.add_argument("--fake", choices=("fast", "checking"), default="fast",
                        help="the stand-in APNs: raw frames answering 200, or tests/fakes/apns.py")
    parser.add_argument("--server", action="store_true", help="also run tasks.push.push on PostgreSQL")
    args = parser.parse_args()

    ca = make_ca("Stand-in Apple push CA")
    cert = make_push_cert(ca)
    targets = make_targets(args.devices)
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {load()}; "
          f"{args.devices} push targets; fake APNs: {args.fake}")
    kind = FastAPNs if args.fake == "fast" else FakeAPNs
    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp, \
            kind.run_in_process(ca_file=ca.write_cert(Path(tmp) / "ca.pem")) as fake:
        print("(a) one APNsClient, one HTTP/2 connection:")
        fast, client_cpu, fake_cpu = bench_one_connection(fake, cert, targets, args.rounds)
        count = min(args.baseline, args.devices)
        print(f"(b) baseline, one request per connection ({count} of {args.devices} pushes, "
              f"rate extrapolated):")
        slow, slow_cpu = bench_connection_per_push(fake, cert, targets[:count], args.baseline_concurrency)
        print(f"=> one connection: {fast:,.0f} pushes/s ({args.devices} in {args.devices / fast:.2f} s); "
              f"connection per push: {slow:,.0f} pushes/s ({args.devices} in ~{args.devices / slow:.0f} s, "
              f"extrapolated); ratio {fast / slow:.1f}x")
        print(f"   client CPU per push: {client_cpu * 1e6:.1f} us (best round) against {slow_cpu * 1e6:.0f} us "
              f"with a connection per push: ratio {slow_cpu / client_cpu:.0f}x; target 50 us "
              f"({'met' if client_cpu <= 50e-6 else 'missed'})")
        print(f"   fake CPU {fake_cpu * 1e6:.0f} us/push: with an idle core each, at most "
              f"~{1 / max(client_cpu, fake_cpu):,.0f} pushes/s (client alone: ~{1 / client_cpu:,.0f}); "
              f"{load()}")
        if args.server:
            print(f"(c) server path, tasks.push.push for {args.devices} devices on PostgreSQL:")
            bench_server_path(fake, cert, ca, args.devices)


if __name__ == "__main__":
    main()
