"""What every benchmark needs: a throw-away database, a gunicorn it owns, CPU and timing figures.

Benchmarks only talk to 127.0.0.1 and clean up after themselves: the database
``espalier_bench_<pid>[_<label>]`` is dropped and the server processes are stopped
(by their ids) on exit, on Ctrl-C, on SIGTERM and when the ``--timeout`` watchdog fires.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the venv's bin: espalier, gunicorn
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """The benchmark cannot go on (the message says why)."""


# ---- lifecycle ------------------------------------------------------------------------

def stop_on_signals(timeout: float) -> None:
    """SIGTERM, and SIGALRM after ``timeout`` seconds, unwind the stack so cleanups run."""
    def bail(signum, _frame):
        raise SystemExit(f"bench: stopped by {signal.Signals(signum).name}"
                         + (f" (--timeout {timeout:.0f}s)" if signum == signal.SIGALRM else ""))
    signal.signal(signal.SIGTERM, bail)
    signal.signal(signal.SIGALRM, bail)
    signal.alarm(max(1, int(timeout)))


@contextlib.contextmanager
def bench_database(label: str = "") -> Iterator[str]:
    """A fresh PostgreSQL database on 127.0.0.1, dropped afterwards; yields its URL."""
    name = f"espalier_bench_{os.getpid()}" + (f"_{label}" if label else "")
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_settings(directory: Path, database_url: str, port: int, *, mtls_proxy: bool,
                   apns: dict[str, Any] | None = None, secret_key: str | None = None) -> Path:
    """(Re)write the settings of a server on 127.0.0.1:port (no Redis: jobs run in the worker).

    Pass the previous ``secret_key`` to rewrite settings over the same database.
    """
    mdm: dict[str, Any] = {"mtls_proxy": mtls_proxy}
    if apns:
        mdm["apns"] = apns
    path = directory / "settings.json"
    path.write_text(json.dumps({
        "base_url": f"http://127.0.0.1:{port}", "database_url": database_url, "redis_url": None,
        "secret_keys": [secret_key or os.urandom(32).hex()], "log_level": "INFO",
        "apps": {"espalier.mdm": mdm}}, indent=2))
    return path


def espalier(settings: Path, *args: str) -> str:
    """Run one ``espalier`` CLI command; its stdout, stripped."""
    done = subprocess.run([str(BIN / "espalier"), "--settings", str(settings), *args],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise BenchError(f"espalier {' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def prepare_server(settings: Path) -> str:
    """Migrate, create the ``admin`` user and return a new admin API key."""
    espalier(settings, "db", "upgrade")
    espalier(settings, "user", "create", "admin")
    return espalier(settings, "token", "create", "--user", "admin", "--role", "admin", "--quiet")


def bench_enrollment(settings: Path, push_dir: Path) -> str:
    """Add the stand-in push certificate of ``fake_apns()`` and an enrollment using it; its secret."""
    cert_id = espalier(settings, "push-certificate", "add", "--name", "Bench", "--certificate",
                       str(push_dir / "push.pem"), "--private-key", str(push_dir / "push.key")).split()[0]
    return espalier(settings, "enrollment", "create", "--name", "Bench", "--push-certificate", cert_id,
                    "--attestation", "none", "--quiet")


class Gunicorn:
    """``gunicorn 'espalier.wsgi:make()'`` on 127.0.0.1, its log in ``directory``."""

    def __init__(self, settings: Path, port: int, *, workers: int = 2, threads: int = 8) -> None:
        self.settings, self.port, self.workers, self.threads = settings, port, workers, threads
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = settings.parent / "gunicorn.log"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
             "--threads", str(self.threads), "--limit-request-line", "16384", "--graceful-timeout", "5",
             "espalier.wsgi:make()"],
            env={**os.environ, "ESPALIER_SETTINGS": str(self.settings)}, cwd=self.settings.parent,
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            self._wait_ready(60)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"gunicorn exited ({self.proc.returncode}):\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200 \
                        and len(self.worker_pids()) == self.workers:
                    return
            time.sleep(0.2)
        raise BenchError(f"gunicorn not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def worker_pids(self) -> list[int]:
        return children(self.proc.pid) if self.proc else []

    def pids(self) -> list[int]:
        """The master and its workers."""
        return [self.proc.pid, *self.worker_pids()] if self.proc else []

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and every worker so far."""
        return sum(cpu_seconds(pid) for pid in self.pids())

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        workers = self.worker_pids()
        self.proc.terminate()  # gunicorn stops its workers on SIGTERM
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            for pid in [*workers, self.proc.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.wait(5)


# ---- figures --------------------------------------------------------------------------

def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2:].split()  # fields from 3 (state) on; comm may hold spaces


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process (all its threads); 0 once it is gone."""
    try:
        fields = _stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
                if int(_stat_fields(int(entry.name))[1]) == parent:
                    pids.append(int(entry.name))
    return pids


class PostgresCpu:
    """CPU of the PostgreSQL backends serving one database (context for the server figures)."""

    def __init__(self, dbname: str) -> None:
        self.dbname = dbname

    def snapshot(self) -> dict[int, float]:
        with psycopg.connect(PG_ADMIN, autocommit=True) as c:
            pids = [r[0] for r in c.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                                            (self.dbname,))]
        return {pid: cpu_seconds(pid) for pid in pids}

    @staticmethod
    def delta(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items())


def drive(fn: Callable[[Any], Any], items: Iterable[Any], concurrency: int) -> tuple[list[Any], float]:
    """Run ``fn`` over ``items`` from ``concurrency`` threads; (results, wall seconds)."""
    items = list(items)
    with ThreadPoolExecutor(concurrency, thread_name_prefix="bench") as pool:
        start = time.perf_counter()
        results = list(pool.map(fn, items))
        return results, time.perf_counter() - start


def stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"mean": statistics.fmean(ordered), "p50": statistics.median(ordered),
            "p95": ordered[math.ceil(0.95 * len(ordered)) - 1], "max": ordered[-1]}


def load_average() -> str:
    """The machine's load: figures from a shared machine are only comparable at similar loads."""
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x" if baseline > 0 else "n/a (baseline 0)"


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        yield Path(name)


@contextlib.contextmanager
def fake_apns() -> Iterator[tuple[Any, Path]]:
    """The fake APNs (``tests/fakes/apns.py``) on 127.0.0.1 and a stand-in push certificate
    it accepts: yields (the fake, a directory holding ``push.pem`` and ``push.key``)."""
    if str(REPO / "tests") not in sys.path:
        sys.path.insert(0, str(REPO / "tests"))
    from fakes.apns import FakeAPNs
    from fakes.push_certs import make_ca, make_push_cert

    with workdir("espalier-bench-push-") as push_dir:
        push_ca = make_ca("Stand-in Apple push CA")
        push_cert = make_push_cert(push_ca)
        (push_dir / "push.pem").write_bytes(push_cert.cert_pem)
        (push_dir / "push.key").write_bytes(push_cert.key_pem)
        with FakeAPNs(ca_file=push_ca.write_cert(push_dir / "push-ca.pem")) as apns:
            yield apns, push_dir


def run_main(main: Callable[[], int]) -> None:
    """A script's entry point: a BenchError ends it with its message, after the cleanups."""
    try:
        sys.exit(main())
    except BenchError as exc:
        sys.exit(f"bench: {exc}")
