"""Enrollments: the server's CPU per full enrollment against its CPU per idle connect.

    .venv/bin/python bench/enroll.py [--devices 500] [--connects 2000] [--simulate 1000]

A fresh PostgreSQL database, a fake APNs on 127.0.0.1, gunicorn, and ``--devices``
simulated Macs (keys made ahead, so the client's key generation is not measured). The
devices enroll in lock-step, one step at a time for all of them, from ``--concurrency``
client threads, so the server CPU (gunicorn master + workers, and the PostgreSQL backends
of the bench database, from /proc) of each step is its own window:

* ``profile``: GET /public/enroll/<secret>/ (a new session, a signed .mobileconfig);
* ``scep``: GetCACaps, GetCACert and PKIOperation (PKCSReq: a certificate issued);
* ``Authenticate`` and ``TokenUpdate`` (the first TokenUpdate queues the inventory
  commands and pushes the device: the window ends when the fake APNs has every push);
* ``inventory``: one connect session per device answering the commands queued at
  enrollment (DeviceInformation, SecurityInfo, ...) until the queue is empty.

Then ``--connects`` idle connects (Idle, answered with an empty 200) and as many ``GET
/healthz`` in the same run: **FIGURE = server CPU per enrollment / server CPU per idle
connect**, and against the floor: an enrollment's requests at the cost of a ``/healthz``
each, plus its four RSA-2048 private-key operations timed alone. With ``--simulate
N``, ``espalier simulate --devices N`` runs against the same gunicorn on a second
enrollment (its wall time, enrollments/s). ``--profile N`` enrolls N more devices with the
Flask app in-process under cProfile (thread-CPU clock) and prints the top entries.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import logging
import plistlib
import pstats
import resource
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import httpx

from common import (BIN, BenchError, Gunicorn, PostgresCpu, bench_database, espalier, free_port,
                    load_average, ms, ratio, run_main, stop_on_signals, workdir, write_settings)
from connect import Meter, Window, add_server_arguments, measure, print_top, run_with_apns

from espalier.sim.fleet import Fleet


class Meters:
    """The server's CPU (gunicorn and PostgreSQL) around each step."""

    def __init__(self, server: Gunicorn, pg: PostgresCpu) -> None:
        self.server, self.pg = server, pg

    def window(self, fn, items: list, concurrency: int, settle=None) -> Window:
        """A measured step; any device whose step failed fails the run."""
        window, results = measure(self.server, self.pg, fn, items, concurrency, settle)
        failed = sum(1 for r in results if r is False)
        if failed:
            errors = sorted({e for d in items if hasattr(d, "errors") for e in d.errors})[:5]
            raise BenchError(f"{failed} of {len(items)} failed: {errors}")
        return window


def enroll_in_steps(fleet: Fleet, apns, meters: Meters, concurrency: int) -> tuple[dict[str, Window], dict]:
    """A window per step; and the inventory commands answered, by RequestType."""
    devices = fleet.devices
    pushed = len(apns.pushes)
    steps = {
        "profile": (lambda d: d.download_profile(fleet.enroll_url), None),
        "scep": (lambda d: d.request_identity(), None),
        "Authenticate": (lambda d: d.enrollment_checkin("Authenticate"), None),
        "TokenUpdate": (lambda d: d.enrollment_checkin("TokenUpdate"),
                        lambda: apns.wait_for_pushes(pushed + len(devices), timeout=120)),
    }
    windows = {name: meters.window(fn, devices, concurrency, settle) for name, (fn, settle) in steps.items()}
    fleet.enrolled += len(devices)
    before = dict(fleet.request_types)
    windows["inventory"] = meters.window(fleet.connect_device, devices, concurrency)
    answered = {k: v - before.get(k, 0) for k, v in fleet.request_types.items() if v - before.get(k, 0)}
    if not answered:
        raise BenchError("no inventory command was queued at enrollment")
    return windows, answered


def idle_connects(fleet: Fleet, meters: Meters, n: int, concurrency: int) -> Window:
    devices = [fleet.devices[i % len(fleet.devices)] for i in range(n)]
    errors = sum(len(d.errors) for d in fleet.devices)
    handled: list = []
    window = meters.window(lambda d: handled.extend(fleet.connect_device(d)), devices, concurrency)
    if handled or sum(len(d.errors) for d in fleet.devices) != errors:
        raise BenchError(f"idle connects were not idle: {handled[:5]} {[d.errors for d in fleet.devices][:3]}")
    return window


def healthz_window(fleet: Fleet, meters: Meters, base_url: str, n: int, concurrency: int) -> Window:
    """``GET /healthz`` (no database): the HTTP floor of one request, on the same gunicorn."""
    return meters.window(lambda _: fleet.client.get(f"{base_url}/healthz").status_code == 200,
                         list(range(n)), concurrency)


def crypto_floor(rounds: int = 200) -> float:
    """CPU of an enrollment's RSA-2048 private-key operations, timed alone: the PKCSReq
    envelope's key decrypted, the certificate, the CertRep and the profile signed."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    wrapped = key.public_key().encrypt(b"k" * 32, padding.PKCS1v15())
    start = time.process_time()
    for _ in range(rounds):
        key.decrypt(wrapped, padding.PKCS1v15())
        for data in (b"certificate", b"certrep", b"profile"):
            key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return (time.process_time() - start) / rounds


def simulate(settings: Path, meters: Meters, base_url: str, push_cert_id: str, n: int, concurrency: int) -> dict:
    """``espalier simulate`` as a user runs it; the server's CPU and the simulator's are read
    around it (the simulator's includes its key generation)."""
    secret = espalier(settings, "enrollment", "create", "--name", "Simulate", "--push-certificate", push_cert_id,
                      "--attestation", "none", "--quiet")
    server_cpu, pg_before = meters.server.cpu_seconds(), meters.pg.snapshot()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([str(BIN / "espalier"), "simulate", "--url", base_url, "--enrollment", secret,
                           "--devices", str(n), "--workers", str(concurrency), "--connects", "1"],
                          capture_output=True, text=True, timeout=1800)
    total = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    server_cpu = meters.server.cpu_seconds() - server_cpu + PostgresCpu.delta(pg_before, meters.pg.snapshot())
    if done.returncode != 0:
        raise BenchError(f"espalier simulate failed: {done.stderr.strip()[-500:]}\n{done.stdout[-500:]}")
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    return {"total": total, "lines": lines, "load": load_average(), "client_cpu": client_cpu, "server_cpu": server_cpu}


class RequestMeter(Meter):
    """``Meter`` that also sums the thread CPU of each kind of request: the profile, a SCEP
    operation, a check-in's MessageType, an Idle connect, or a report of the command it
    answers (named from the hand-outs seen), each with what it handed out."""

    def __init__(self, app) -> None:
        super().__init__(app)
        self.by_kind: dict[str, list] = defaultdict(lambda: [0.0, 0])
        self._handed_out: dict[str, str] = {}  # CommandUUID -> RequestType

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read()
        environ["wsgi.input"] = io.BytesIO(body)
        kind, before = self._kind(environ, body), self.cpu
        out = super().__call__(environ, start_response)
        if environ["PATH_INFO"] == "/mdm/connect" and out[0].startswith(b"<?xml"):
            answer = plistlib.loads(out[0])
            self._handed_out[answer["CommandUUID"]] = answer["Command"]["RequestType"]
            kind += f" -> {answer['Command']['RequestType']}"
        totals = self.by_kind[kind]
        totals[0] += self.cpu - before
        totals[1] += 1
        return out

    def _kind(self, environ, body: bytes) -> str:
        path = environ["PATH_INFO"]
        if path.startswith("/scep/"):
            return "SCEP " + dict(p.partition("=")[::2] for p in environ["QUERY_STRING"].split("&")).get("operation", "?")
        if path == "/mdm/checkin":
            return plistlib.loads(body).get("MessageType", "?")
        if path == "/mdm/connect":
            message = plistlib.loads(body)
            if message.get("Status") == "Idle":
                return "Idle"
            return f"report of {self._handed_out.get(message.get('CommandUUID'), '?')}"
        return "profile" if path.startswith("/public/enroll/") else path


def profile_in_process(settings: Path, secret: str, n: int) -> dict:
    """``n`` full enrollments (all steps, inventory included) against the app in-process."""
    from espalier.app import create_app
    from espalier.settings import load

    app = create_app(load(str(settings)))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    meter = RequestMeter(app)
    try:
        with httpx.Client(transport=httpx.WSGITransport(app=meter), base_url="http://127.0.0.1:1") as client, \
                Fleet("http://127.0.0.1:1", secret, n + 5, "mac", workers=1, client=client) as fleet:
            fleet.make_keys_ahead()
            warm, measured = fleet.devices[:5], fleet.devices[5:]
            for d in warm:
                d.enroll(fleet.enroll_url) and fleet.connect_device(d)

            def one(i: int) -> None:
                d = measured[i]
                if not (d.enroll(fleet.enroll_url) and fleet.connect_device(d) is not None) or d.errors:
                    raise BenchError(f"in-process enrollment failed: {d.errors}")
            meter.by_kind.clear()
            plain = meter.run(one, n // 2)
            by_kind = {kind: (cpu / (n // 2), calls / (n // 2)) for kind, (cpu, calls) in meter.by_kind.items()}
            meter.profiler = cProfile.Profile(time.thread_time)
            profiled = meter.run(lambda i: one(n // 2 + i), n - n // 2)
    finally:
        app.extensions["espalier"].close()
    requests = meter.calls / (n - n // 2)
    return {"plain": plain * requests, "profiled": profiled * requests, "n": n - n // 2, "requests": requests,
            "stats": pstats.Stats(meter.profiler), "by_kind": by_kind, "plain_n": n // 2}


def print_enroll_profile(profile: dict, top: int) -> None:
    print(f"  in-process (no gunicorn, no HTTP), sequential, thread CPU of the app ({profile['requests']:.1f} "
          f"requests per enrollment): {ms(profile['plain'])} per enrollment (under cProfile: "
          f"{ms(profile['profiled'])})")
    print(f"    per request, the {profile['plain_n']} enrollments before the profiled ones (CPU per enrollment, requests per "
          "enrollment):")
    for kind, (cpu, calls) in sorted(profile["by_kind"].items(), key=lambda item: -item[1][0]):
        print(f"      {kind:<44} {ms(cpu)}  x{calls:.1f}  {cpu / profile['plain']:4.0%}")
    print_top(profile["stats"], profile["n"], top, "enrollment")


def report(windows: dict[str, Window], answered: dict, idle: Window, healthz: Window, crypto: float) -> None:
    total_server = sum(w.server_cpu / w.n for w in windows.values())
    total_pg = sum(w.pg_cpu / w.n for w in windows.values())
    total = total_server + total_pg
    for name, w in windows.items():
        extra = ""
        if name == "inventory":
            extra = "  answered " + ", ".join(f"{k} {v}" for k, v in sorted(answered.items()))
        cpu = w.total_cpu_per_request
        print(f"  {name:<12} {w.n} in {w.wall:5.1f} s  server CPU {ms(cpu)}/device  (gunicorn "
              f"{ms(w.server_cpu / w.n)} + PostgreSQL {ms(w.pg_cpu / w.n)}), {cpu / total:4.0%}{extra}")
    idle_cpu = idle.total_cpu_per_request
    print(f"  {'idle connect':<12} {idle.n} in {idle.wall:5.1f} s  server CPU {ms(idle_cpu)}/connect  (gunicorn "
          f"{ms(idle.server_cpu / idle.n)} + PostgreSQL {ms(idle.pg_cpu / idle.n)})")
    print(f"  FIGURE       server CPU per enrollment {ms(total)} (gunicorn {ms(total_server)} + PostgreSQL "
          f"{ms(total_pg)}) / per idle connect {ms(idle_cpu)} = {ratio(total, idle_cpu)} "
          f"(gunicorn only {ratio(total_server, idle.server_cpu / idle.n)}); target: <= 10 ms per enrollment; "
          f"{load_average()}")
    # the floor: the requests of an enrollment at the cost of a /healthz each, and its crypto
    n = windows["profile"].n
    requests = 6 + 1 + sum(answered.values()) / n  # profile, 3 SCEP, 2 check-ins; Idle, then one per command
    http = healthz.total_cpu_per_request
    floor = requests * http + crypto
    print(f"  floor        {requests:.1f} requests x /healthz {ms(http)} ({healthz.n} measured after the connects) "
          f"+ 4 RSA-2048 private-key operations timed alone {ms(crypto)} = {ms(floor)}; "
          f"FIGURE per enrollment / floor = {ratio(total, floor)}")


def run(args, apns, push_dir: Path) -> None:
    with bench_database() as database_url, workdir("espalier-bench-enroll-") as tmp:
        port = free_port()
        settings = write_settings(tmp, database_url, port, mtls_proxy=args.mode == "mtls",
                                  apns={"host": apns.host, "port": apns.port, "ca_file": apns.server_ca_file})
        espalier(settings, "db", "upgrade")
        cert_id = espalier(settings, "push-certificate", "add", "--name", "Bench", "--certificate",
                           str(push_dir / "push.pem"), "--private-key", str(push_dir / "push.key")).split()[0]
        secret = espalier(settings, "enrollment", "create", "--name", "Bench", "--push-certificate", cert_id,
                          "--attestation", "none", "--quiet")
        pg = PostgresCpu(database_url.rsplit("/", 1)[1])
        base_url = f"http://127.0.0.1:{port}"
        with Gunicorn(settings, port, workers=args.workers, threads=args.threads) as server:
            meters = Meters(server, pg)
            with Fleet(base_url, secret, args.warmup, "mac", workers=args.concurrency) as warm:
                warm.make_keys_ahead()
                warm.enroll_all()
                warm.connect_all(1)  # every worker: CA, trust store, pools, code paths
                if warm.summary()["failed"]:
                    raise BenchError(f"warm-up failed: {warm.summary()['errors']}")
            with Fleet(base_url, secret, args.devices, "mac", workers=args.concurrency,
                       identity_mode=args.mode) as fleet:
                keygen = fleet.make_keys_ahead()
                print(f"keys       {args.devices} made ahead in {keygen:.1f} s (not measured); {load_average()}")
                windows, answered = enroll_in_steps(fleet, apns, meters, args.concurrency)
                idle = idle_connects(fleet, meters, args.connects, args.concurrency)
                healthz = healthz_window(fleet, meters, base_url, args.connects, args.concurrency)
            report(windows, answered, idle, healthz, crypto_floor())
            if args.simulate:
                sim = simulate(settings, meters, base_url, cert_id, args.simulate, args.concurrency)
                enroll_line = sim["lines"].get("enroll", "enroll ?")
                print(f"simulate   espalier simulate --devices {args.simulate} --workers {args.concurrency}: "
                      f"{sim['total']:.1f} s in all (keys made ahead included); {sim['load']}")
                for key in ("keys", "enroll", "connect"):
                    if key in sim["lines"]:
                        print(f"           {sim['lines'][key]}")
                per_s = float(enroll_line.split()[1].rstrip("/s")) if enroll_line.split()[1][0].isdigit() else 0
                if per_s:
                    print(f"           enrollment wall time for {args.simulate}: {args.simulate / per_s:.1f} s "
                          f"(target < 60 s)")
                print(f"           CPU: server (gunicorn + PostgreSQL) {sim['server_cpu']:.1f} s "
                      f"({ms(sim['server_cpu'] / args.simulate)} per device), the simulator {sim['client_cpu']:.1f} s "
                      f"(its key generation included)")
        if args.profile:
            print_enroll_profile(profile_in_process(settings, secret, args.profile), args.top)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--connects", type=int, default=2000, help="idle connects (the baseline)")
    parser.add_argument("--mode", choices=("mtls", "signature"), default="mtls",
                        help="identity: X-SSL-Client-Cert headers (mtls_proxy) or Mdm-Signature")
    parser.add_argument("--warmup", type=int, default=32, help="devices enrolled before measuring")
    parser.add_argument("--simulate", type=int, default=0, help="then time `espalier simulate --devices N`")
    parser.add_argument("--profile", type=int, default=0, help="in-process profiled enrollments (0: none)")
    add_server_arguments(parser, top=20, timeout=1800)
    args = parser.parse_args()
    stop_on_signals(args.timeout)

    return run_with_apns(args, f"enrollment benchmark: {args.devices} Macs ({args.mode}), {args.connects} idle "
                         "connects", run)


if __name__ == "__main__":
    run_main(main)
