"""The fault test's world: private PostgreSQL and Redis, `espalier serve` (gunicorn, 2 workers),
`espalier worker` processes, the fake APNs, simulated devices polling and waking on pushes, and
a load thread queueing commands through the API.

Every process started here carries ``ESPALIER_FAULT_TAG`` in its environment, so its children
(gunicorn workers, postgres backends) are found too; ``Harness.close`` ends them all.
"""
from __future__ import annotations

import contextlib
import json
import os
import plistlib
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.worker import Worker

from espalier.sim.fleet import Fleet

from fakes.apns import FakeAPNs
from fakes.push_certs import make_ca, make_push_cert
from live import free_port
from private_servers import PrivatePostgres, PrivateRedis

BIN = Path(sys.executable).parent
TAG_VAR = "ESPALIER_FAULT_TAG"
SWEEPS = {"renotify_seconds": 4, "lost_tasks_seconds": 4, "task_lost_after_seconds": 8}
APNS_HOLD = 2.5  # well below task_lost_after_seconds, and a job stays under the APNs client timeout


def tagged_pids(tag: str) -> list[int]:
    """Processes whose environment carries ``tag``."""
    needle = f"{TAG_VAR}={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@dataclass
class Queued:
    uuid: str
    device_id: int
    name: str  # CustomCommand, CertificateList, DeviceInformation
    at: float


@dataclass
class Load:
    """Commands queued through the API (~every 0.15 s) and a tracked notify about every 10th."""

    harness: Harness
    commands: list[Queued] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    answers: list[tuple[float, str, int]] = field(default_factory=list)  # (time, what, status)

    def __post_init__(self) -> None:
        self.running = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fault-load", daemon=True)

    def start(self) -> None:
        self.running.set()
        self._thread.start()

    def pause(self) -> None:
        """Return once no request of the load is in flight."""
        self.running.clear()
        self._idle.wait(60)

    def resume(self) -> None:
        self.running.set()

    def stop(self) -> None:
        self._stop.set()
        self.running.set()
        self._thread.join(60)

    def _loop(self) -> None:
        rng = random.Random(9)
        n = 0
        while not self._stop.is_set():
            if not self.running.is_set():
                self._idle.set()
                self.running.wait()
                continue
            self._idle.clear()
            device_id = rng.choice(self.harness.device_ids)
            n += 1
            try:
                if n % 10 == 0:
                    self._notify(rng.sample(self.harness.device_ids, 3))
                else:
                    self._command(device_id, rng.choice(("CustomCommand", "CertificateList", "DeviceInformation")))
            except httpx.HTTPError as exc:  # counted: the end checks refuse any
                self.answers.append((time.monotonic(), f"error {exc!r}", 0))
            time.sleep(0.15)
        self._idle.set()

    def _command(self, device_id: int, name: str) -> None:
        api = self.harness.api
        if name == "CustomCommand":
            body = {"command": plistlib.dumps({"RequestType": "ProfileList"}).decode()}
            resp = api.post(f"/api/mdm/devices/{device_id}/send_custom_command/", json=body)
        else:
            resp = api.post(f"/api/mdm/devices/{device_id}/commands/", json={"name": name})
        self.answers.append((time.monotonic(), name, resp.status_code))
        if resp.status_code == 201:
            self.commands.append(Queued(resp.json()["uuid"], device_id, name, time.monotonic()))

    def _notify(self, device_ids: list[int]) -> None:
        resp = self.harness.api.post("/api/mdm/devices/notify/", json={"devices": device_ids})
        self.answers.append((time.monotonic(), "notify", resp.status_code))
        if resp.status_code == 201:
            self.tasks.append(resp.json()["task_result_url"].rstrip("/").rsplit("/", 1)[-1])


class Harness:
    def __init__(self, directory: Path, devices: int = 20):
        self.directory = directory
        self.tag = f"faults-{uuid.uuid4()}"
        self.env = {**os.environ, TAG_VAR: self.tag}
        self.n_devices = devices
        self.workers: list[subprocess.Popen] = []
        self.server: subprocess.Popen | None = None
        self.fleet: Fleet | None = None
        self.apns: FakeAPNs | None = None
        self.pg = PrivatePostgres(self.env)
        self.redis = PrivateRedis(directory, self.env)
        self._polling = threading.Event()
        self._poller: threading.Thread | None = None
        self.leftovers: list[int] = []

    # ---- set-up ---------------------------------------------------------------------------

    def start(self) -> Harness:
        self.pg.init().start()
        self.redis.start()
        push_ca = make_ca("Stand-in Apple push CA")
        pair = make_push_cert(push_ca)
        self.apns = FakeAPNs(ca_file=push_ca.write_cert(self.directory / "push-ca.pem"), on_push=self._pushed)
        self.apns.__enter__()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = self.pg.create_database("espalier")
        self.settings = self.directory / "settings.json"
        self.settings.write_text(json.dumps({
            "base_url": self.url, "database_url": self.database_url, "redis_url": self.redis.url,
            "secret_keys": ["faults-" + "k" * 40], "log_level": "INFO",
            "apps": {"espalier.mdm": {"sweeps": SWEEPS, "apns": {
                "host": self.apns.host, "port": self.apns.port, "ca_file": self.apns.server_ca_file}}}}))
        self.env["ESPALIER_SETTINGS"] = str(self.settings)
        self.espalier("db", "upgrade")
        self.espalier("user", "create", "faults")
        token = self.espalier("token", "create", "--user", "faults", "--role", "admin", "--name", "faults",
                              "--quiet").strip()
        (self.directory / "push.pem").write_bytes(pair.cert_pem)
        (self.directory / "push.key").write_bytes(pair.key_pem)
        self.espalier("push-certificate", "add", "--name", "Main", "--certificate", str(self.directory / "push.pem"),
                      "--private-key", str(self.directory / "push.key"))
        self.api = httpx.Client(base_url=self.url, headers={"Authorization": f"Token {token}"}, timeout=30)
        self.server = self._spawn("serve", ["serve", "--bind", f"127.0.0.1:{self.port}", "--workers", "2"])
        self._wait_healthy()
        push_id = self.api.get("/api/mdm/push_certificates/").json()[0]["id"]
        secret = self.espalier("enrollment", "create", "--name", "Fleet", "--push-certificate", str(push_id),
                               "--attestation", "none", "--quiet").strip()
        for i in range(2):
            self.start_worker()
        self.fleet = Fleet(self.url, secret, self.n_devices, "mac", workers=16, timeout=30)
        assert self.fleet.enroll_all() == self.n_devices, self.fleet.summary()["errors"]
        found = self.api.get("/api/mdm/devices/").json()
        self.device_ids = sorted(d["id"] for d in found)
        assert len(self.device_ids) == self.n_devices
        self.start_polling()
        self.load = Load(self)
        return self

    def espalier(self, *args: str) -> str:
        done = subprocess.run([str(BIN / "espalier"), *args], env=self.env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"espalier {' '.join(args)}: {done.stderr[-2000:]}")
        return done.stdout

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.directory / f"{name}.log", "a")
        # A session (and process group) of its own: a signal to the group reaches its children.
        return subprocess.Popen([str(BIN / "espalier"), *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def start_worker(self) -> subprocess.Popen:
        worker = self._spawn(f"worker{len(self.workers)}", ["worker"])
        self.workers.append(worker)
        return worker

    def _wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"espalier serve exited:\n{(self.directory / 'serve.log').read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("espalier serve not ready")

    # ---- devices --------------------------------------------------------------------------

    def _pushed(self, token_hex: str, magic: str) -> None:
        if self.fleet is not None:
            self.fleet.push_callback(token_hex, magic)

    def start_polling(self) -> None:
        self._polling.set()
        self._poller = threading.Thread(target=self._poll, name="fault-poll", daemon=True)
        self._poller.start()

    def stop_polling(self) -> None:
        self._polling.clear()
        if self._poller:
            self._poller.join(30)

    def _poll(self) -> None:
        while self._polling.is_set():
            start = time.monotonic()
            self.fleet.connect_all()
            time.sleep(max(0.0, 1.0 - (time.monotonic() - start)))

    # ---- what the checks read -------------------------------------------------------------

    def sql(self, query: str, *params) -> list[tuple]:
        with psycopg.connect(self.database_url, connect_timeout=3) as conn:
            return conn.execute(query, params).fetchall()

    def rq(self) -> Redis:
        return Redis.from_url(self.redis.url, socket_connect_timeout=2, socket_timeout=5)

    def sweeps_since(self, since: float) -> dict[str, float]:
        """Sweep name -> when (epoch seconds) its first run that ended after ``since`` ended."""
        found: dict[str, float] = {}
        with self.rq() as conn:
            for name in ("push", "default"):
                registry = Queue(f"espalier:{name}", connection=conn).finished_job_registry
                for job_id in registry.get_job_ids():
                    for sweep in ("renotify-pending", "redo-lost-tasks"):
                        if not job_id.startswith(f"beat-{sweep}-"):
                            continue
                        job = Job.fetch(job_id, connection=conn)
                        ended = job.ended_at.timestamp() if job.ended_at else None
                        if ended and ended > since and (sweep not in found or ended < found[sweep]):
                            found[sweep] = ended
        return found

    def wait_for_sweeps(self, since: float, timeout: float = 30) -> dict[str, float]:
        """Seconds after ``since`` by which both sweeps ran again (raises after ``timeout``)."""
        deadline = time.monotonic() + timeout
        found: dict[str, float] = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):  # Redis still coming back
                found = self.sweeps_since(since)
                if len(found) == 2:
                    return {name: round(at - since, 1) for name, at in found.items()}
            time.sleep(0.25)
        raise AssertionError(f"the sweeps did not both run within {timeout} s of the fault: {found}")

    def wait_queues_drained(self, timeout: float = 60) -> None:
        """Return once no job waits in a queue (running and delayed ones aside): what is already
        queued must not run against a held APNs before the job a fault test wants to catch."""
        deadline = time.monotonic() + timeout
        queued: dict[str, list[str]] = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception), self.rq() as conn:
                queued = {name: Queue(f"espalier:{name}", connection=conn).get_job_ids() for name in ("push", "default")}
                if not any(queued.values()):
                    return
            time.sleep(0.05)
        raise AssertionError(f"the queues did not drain within {timeout} s: {queued}")

    def task_rows(self, ids: list[str] | None = None) -> dict[str, tuple[str, int]]:
        rows = self.sql("SELECT id, status, attempts FROM task_results")
        return {r[0]: (r[1], r[2]) for r in rows if ids is None or r[0] in ids}

    def wait_tasks_finished(self, timeout: float = 60) -> dict[str, tuple[str, int]]:
        deadline = time.monotonic() + timeout
        while True:
            rows = self.task_rows()
            if all(status in ("finished", "failed") for status, _ in rows.values()) or time.monotonic() > deadline:
                return rows
            time.sleep(0.25)

    def worker_running(self, job_id: str, timeout: float = 30) -> int | None:
        """The pid of the worker running ``job_id``, from RQ's registries; None once the job ended
        (a job can finish between two looks on a loaded host)."""
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception), self.rq() as conn:
                job = Job.fetch(job_id, connection=conn)
                seen = (job.get_status(), job.worker_name)
                if seen[0] in ("finished", "failed"):
                    return None
                if seen[0] == "started" and job.worker_name:
                    worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + job.worker_name,
                                                connection=conn)
                    if worker is not None and worker.pid:
                        return worker.pid
            time.sleep(0.05)
        raise AssertionError(f"no worker is running {job_id} (last seen: status, worker = {seen})")

    # ---- teardown -------------------------------------------------------------------------

    def close(self) -> None:
        self.stop_polling()
        if getattr(self, "load", None):
            self.load.stop()
        for proc in [*self.workers, self.server]:
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGCONT)
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in [*self.workers, self.server]:
            if proc is not None:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
        if self.fleet:
            self.fleet.close()
        if self.apns:
            self.apns.__exit__(None, None, None)
        self.redis.kill()
        self.pg.destroy()
        self.leftovers = tagged_pids(self.tag)
        for pid in self.leftovers:  # what the stops above missed: the test fails on it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
