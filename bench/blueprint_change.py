"""A profile added to a blueprint of N devices: server CPU per device converged / per idle connect.

    .venv/bin/python bench/blueprint_change.py [--devices 10000] [--baseline-connects 2000]

A fresh PostgreSQL database with ``--devices`` enrolled Macs on one blueprint (rows written
in bulk, every device bound to one identity certificate of the built-in CA: the check is
the same per device, and issuing 10,000 certificates would measure SCEP instead). The
Flask app runs in-process; requests go through the whole device stack (mTLS proxy headers,
trust check, plist, locked lookup, queue, convergence) on one thread, so the app's CPU is
that thread's CPU; the PostgreSQL backends' CPU is read from /proc.

1. **Baseline**: ``--baseline-connects`` idle connects (an Idle PUT answered with an empty
   200: the devices are on a blueprint with nothing to install).
2. **Change**: an artifact, a profile version and its blueprint artifact are added through
   the services (as the API does), which also selects the devices to push (none are
   pushable here: the push fan-out has its own benchmark, ``push.py``).
3. **Convergence**: each device connects (Idle -> InstallProfile) and acknowledges
   (-> empty answer: converged); every device must end with the version installed.
4. **Converged**: the fleet's steady state: after one Idle of every device (unmeasured),
   ``--baseline-connects`` idle connects of devices that hold the blueprint's profile.

FIGURE = (app + PostgreSQL CPU per device converged) / (app + PostgreSQL CPU per idle
connect), and the same ratio for the app alone.
"""
from __future__ import annotations

import argparse
import base64
import logging
import os
import plistlib
import time
import uuid

from werkzeug.test import Client

from common import BenchError, PostgresCpu, bench_database, load_average, ms, ratio, run_main, stop_on_signals
from connect import Meter

from espalier.sim.wire import mtls_headers

CONNECT = "application/x-apple-aspen-mdm"


def _identity(rt):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa

    from espalier.pki.ca import fingerprint_sha256, issue_certificate

    key = rsa.generate_private_key(65537, 2048)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "bench-device")]))
           .sign(key, hashes.SHA256()))
    with rt.db.session() as s, s.begin():
        ca = rt.ca.get(s)
    cert = issue_certificate(ca.certificate, ca.key, csr)
    return cert, fingerprint_sha256(cert)


def _fleet(rt, n: int, fingerprint: str) -> tuple[int, list[str]]:
    from sqlalchemy import insert

    from espalier.models import Blueprint, EnrolledDevice, utcnow

    now = utcnow()
    udids = [str(uuid.UUID(int=i + 1)).upper() for i in range(n)]
    with rt.db.session() as s, s.begin():
        blueprint = Blueprint(name="Bench", legacy_profiles_via_ddm=False)  # InstallProfile convergence
        s.add(blueprint)
        s.flush()
        rows = [{"udid": udid, "serial_number": f"BENCH{i:07d}", "platform": "macOS", "model": "Mac14,2",
                 "os_version": "14.5", "cert_fingerprint": fingerprint, "enrolled_at": now, "last_inventory_at": now,
                 "blueprint_id": blueprint.id, "last_seen_at": now} for i, udid in enumerate(udids)]
        for start in range(0, n, 5000):
            s.execute(insert(EnrolledDevice), rows[start:start + 5000])
        return blueprint.id, udids


def _add_profile(rt, blueprint_id: int) -> str:
    from espalier.services import artifacts, blueprints

    source = plistlib.dumps({"PayloadType": "Configuration", "PayloadIdentifier": "com.example.bench",
                             "PayloadUUID": str(uuid.uuid4()).upper(), "PayloadDisplayName": "Bench",
                             "PayloadVersion": 1, "PayloadScope": "System", "PayloadContent": [
                                 {"PayloadType": "com.apple.wifi.managed", "PayloadIdentifier": "com.example.bench.w",
                                  "PayloadUUID": str(uuid.uuid4()).upper(), "PayloadVersion": 1, "SSID_STR": "x"}]})
    filters = {"macos": True, **{f"{p}{s}": "" for p in ("ios", "ipados", "macos", "tvos")
                                 for s in ("_min_version", "_max_version")},
               "ios": False, "ipados": False, "tvos": False, "shard_modulo": 100, "default_shard": 100,
               "excluded_tags": [], "tag_shards": []}
    with rt.db.session() as s, s.begin():
        art = artifacts.save_artifact(s, rt, {"name": "Bench", "type": "Profile", "channel": "Device"})
        version = artifacts.save_profile(s, rt, {**filters, "artifact": art.id, "version": 1,
                                                 "source": base64.b64encode(source).decode()})
        blueprints.save_item(s, rt, {**filters, "blueprint": blueprint_id, "artifact": art.id})
        return version.artifact_version_id


def measure(meter: Meter, pg: PostgresCpu, fn, n: int) -> tuple[float, float, float]:
    """(app CPU, PostgreSQL CPU, wall) over n calls."""
    before, start = pg.snapshot(), time.perf_counter()
    app_cpu = meter.run(fn, n) * n
    return app_cpu, PostgresCpu.delta(before, pg.snapshot()), time.perf_counter() - start


def run(args) -> None:
    from sqlalchemy import func, select

    from espalier import runtime as runtime_mod
    from espalier.app import create_app
    from espalier.models import DeviceArtifact
    from espalier.settings import from_mapping
    from espalier.tasks.queue import InProcessTaskQueue

    with bench_database("blueprint") as url:
        settings = from_mapping({"base_url": "http://127.0.0.1", "database_url": url, "secret_keys": [os.urandom(32).hex()],
                                 "log_level": "WARNING", "apps": {"espalier.mdm": {"mtls_proxy": True}}})
        rt = runtime_mod.build(settings, queue=InProcessTaskQueue(sync=True))
        try:
            rt.db.upgrade(secret_keys=settings["secret_keys"])
            cert, fingerprint = _identity(rt)
            blueprint_id, udids = _fleet(rt, args.devices, fingerprint)
            app = create_app(settings, runtime=rt)
            logging.getLogger().setLevel(logging.WARNING)
            meter = Meter(app)
            client = Client(meter)
            headers = {"Content-Type": CONNECT, **mtls_headers(cert)}
            pg = PostgresCpu(url.rsplit("/", 1)[1])

            def put(body: dict) -> bytes:
                resp = client.put("/mdm/connect", data=plistlib.dumps(body), headers=headers)
                if resp.status_code != 200:
                    raise BenchError(f"connect: HTTP {resp.status_code} {resp.get_data()[:200]!r}")
                return resp.get_data()

            def idle(i: int) -> None:
                if put({"UDID": udids[i % len(udids)], "Status": "Idle"}):
                    raise BenchError("an idle connect got a command")

            def converge(i: int) -> None:
                udid = udids[i]
                answer = plistlib.loads(put({"UDID": udid, "Status": "Idle"}))
                if answer["Command"]["RequestType"] != "InstallProfile":
                    raise BenchError(f"expected InstallProfile, got {answer['Command']['RequestType']}")
                if put({"UDID": udid, "Status": "Acknowledged", "CommandUUID": answer["CommandUUID"]}):
                    raise BenchError("a converged device got another command")

            meter.run(idle, min(200, args.baseline_connects))  # warm the trust cache and the pool
            base_app, base_pg, base_wall = measure(meter, pg, idle, args.baseline_connects)
            start = time.process_time()
            change_wall = time.perf_counter()
            version_id = _add_profile(rt, blueprint_id)
            change_cpu, change_wall = time.process_time() - start, time.perf_counter() - change_wall
            conv_app, conv_pg, conv_wall = measure(meter, pg, converge, len(udids))
            with rt.db.session() as s:
                installed = s.scalar(select(func.count()).select_from(DeviceArtifact).where(
                    DeviceArtifact.artifact_version_id == version_id, DeviceArtifact.status == "installed"))
            if installed != len(udids):
                raise BenchError(f"{installed} of {len(udids)} devices have the profile installed")
            meter.run(idle, len(udids))  # each device's first Idle once it converged
            held_app, held_pg, held_wall = measure(meter, pg, idle, args.baseline_connects)
        finally:
            rt.close()
    n, b = len(udids), args.baseline_connects
    idle_app, idle_pg = base_app / b, base_pg / b
    dev_app, dev_pg = (conv_app + change_cpu) / n, conv_pg / n
    print(f"  idle connect   {b} in {base_wall:.1f} s; app CPU {ms(idle_app)}, PostgreSQL {ms(idle_pg)}")
    print(f"  the change     artifact + profile + blueprint artifact: {ms(change_cpu)} CPU, {change_wall:.2f} s")
    print(f"  convergence    {n} devices (Idle -> InstallProfile, Acknowledged -> nothing) in {conv_wall:.1f} s "
          f"({n / conv_wall:.0f} devices/s); app CPU {ms(dev_app)}, PostgreSQL {ms(dev_pg)} per device")
    print(f"  converged idle {b} in {held_wall:.1f} s; app CPU {ms(held_app / b)}, PostgreSQL {ms(held_pg / b)} "
          f"({ratio(held_app + held_pg, base_app + base_pg)} the idle connect before the change)")
    print(f"  FIGURE   server CPU per device converged {ms(dev_app + dev_pg)} / per idle connect "
          f"{ms(idle_app + idle_pg)} = {ratio(dev_app + dev_pg, idle_app + idle_pg)} "
          f"(app only {ratio(dev_app, idle_app)}); {installed} of {n} installed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--baseline-connects", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=1800, help="give up (and clean up) after this many seconds")
    args = parser.parse_args()
    if args.devices < 1 or args.baseline_connects < 1:
        parser.error("--devices and --baseline-connects take a positive number")
    stop_on_signals(args.timeout)
    print(f"Espalier blueprint change benchmark: {args.devices} Macs on one blueprint, {os.cpu_count()} CPUs, "
          f"{time.strftime('%Y-%m-%d')}, {load_average()}")
    run(args)
    return 0


if __name__ == "__main__":
    run_main(main)
