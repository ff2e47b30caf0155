"""Private Redis and PostgreSQL servers that a test may stop, kill and restart (fault tests).

Each runs on a free loopback port in a temporary directory, with no persistence (Redis) and
trust authentication (PostgreSQL; run as the ``postgres`` user when the tests run as root).
Every process they start carries ``env`` (the fault test's tag), so leftovers can be found.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis

from live import free_port


def _wait(check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not come up: {exc}") from None
            time.sleep(0.05)


class PrivateRedis:
    def __init__(self, directory: Path, env: dict | None = None):
        self.directory, self.env = directory, env or dict(os.environ)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> PrivateRedis:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
             "--save", "", "--appendonly", "no", "--dir", str(self.directory), "--logfile",
             str(self.directory / "redis.log")], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        _wait(lambda: redis.Redis(port=self.port, socket_connect_timeout=1).ping(), "redis-server")
        return self

    def kill(self) -> None:
        """Gone at once, with everything it held (no persistence)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> None:
        self.kill()
        self.start()

    stop = kill


class PrivatePostgres:
    def __init__(self, env: dict | None = None):
        # Not under pytest's tmp_path: its parents are private to root, and postgres must reach it.
        self.directory, self.env = Path(tempfile.mkdtemp(prefix="espalier-pg-")), env or dict(os.environ)
        self.data = self.directory / "pgdata"
        self.port = free_port()
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = list(args)
        if self.as_root:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, env=self.env, check=check, capture_output=True, text=True,
                              start_new_session=True)

    def init(self) -> PrivatePostgres:
        if self.as_root:
            shutil.chown(self.directory, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.directory / "postgres.log"), "-o", options,
                  "-w", "start")
        _wait(lambda: psycopg.connect(self.admin_url, connect_timeout=2).close(), "PostgreSQL")

    def stop(self) -> None:
        """A fast shutdown: clients are disconnected, new connections refused."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.admin_url.rsplit("/", 1)[0] + f"/{name}"

    def destroy(self) -> None:
        """Stop it (killing it if it does not stop) and remove its files."""
        self.stop()
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass
        shutil.rmtree(self.directory, ignore_errors=True)
