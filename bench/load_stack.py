"""The stack under load: RQ workers, Redis, settings with Redis, a fleet that times commands.

Used by ``load.py``; the parts a run starts are stopped by pid (workers) or emptied (the
Redis database) on exit, on Ctrl-C and on SIGTERM, as every bench's parts are.
"""
from __future__ import annotations

import contextlib
import json
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from common import BIN, BenchError, cpu_seconds, write_settings

from espalier.sim.fleet import Fleet

if TYPE_CHECKING:
    from fakes.apns import FakeAPNs

COMMAND = "DeviceInformation"  # what the API queues: the simulator answers it, Acknowledged
PUSH_MIN_INTERVAL = 5.5  # s: tasks.push pushes a device at most every 5 s (later pushes are deferred)


class TimedFleet(Fleet):
    """A fleet that times each command from its API request to the device's answer."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.awaiting: dict[int, float] = {}  # id(device) -> when the command was requested
        self.answered: list[float] = []  # seconds from request to Acknowledged

    def connect_device(self, device):
        handled = super().connect_device(device)
        if (COMMAND, "Acknowledged") in handled:
            since = self.awaiting.pop(id(device), None)
            if since is not None:
                self.answered.append(time.monotonic() - since)
        return handled


class Workers:
    """``espalier worker`` processes (RQ, no fork per job), stopped by pid on exit."""

    def __init__(self, settings: Path, n: int, redis_url: str) -> None:
        self.settings, self.n, self.redis_url = settings, n, redis_url
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> Workers:
        from redis import Redis
        from rq import Worker

        try:
            for i in range(self.n):
                with (self.settings.parent / f"worker-{i}.log").open("wb") as log:
                    self.procs.append(subprocess.Popen([str(BIN / "espalier"), "--settings", str(self.settings),
                                                        "worker"], stdout=log, stderr=subprocess.STDOUT))
            with Redis.from_url(self.redis_url) as redis:
                deadline = time.monotonic() + 60
                while Worker.count(connection=redis) < self.n:
                    if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                        raise BenchError(f"espalier worker not ready:\n{self.log_tail()}")
                    time.sleep(0.2)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()  # RQ finishes the current job on SIGTERM
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.poll() is None]

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids())

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join("\n".join(p.read_text(errors="replace").splitlines()[-lines:])
                         for p in sorted(self.settings.parent.glob("worker-*.log")))


@contextlib.contextmanager
def redis_database(url: str):
    """The bench's Redis database, empty before and after."""
    from redis import Redis
    from redis.exceptions import RedisError

    with Redis.from_url(url, socket_connect_timeout=2) as redis:
        try:
            redis.flushdb()
        except RedisError as exc:
            raise BenchError(f"Redis at {url}: {exc}") from None
        try:
            yield url
        finally:
            redis.flushdb()


def queue_command(api: httpx.Client, device_id: int) -> int:
    return api.post(f"/api/mdm/devices/{device_id}/commands/", json={"name": COMMAND}).status_code


def device_ids(api: httpx.Client) -> dict[str, int]:
    response = api.get("/api/mdm/devices/")
    response.raise_for_status()
    return {d["udid"]: d["id"] for d in response.json()}


def settings_with_redis(tmp: Path, database_url: str, port: int, apns: FakeAPNs, redis_url: str) -> Path:
    """common.write_settings, plus Redis (jobs go to RQ) and a re-notify sweep that stays out of the windows."""
    path = write_settings(tmp, database_url, port, mtls_proxy=True,
                          apns={"host": apns.host, "port": apns.port, "ca_file": apns.server_ca_file})
    data = json.loads(path.read_text())
    data["redis_url"] = redis_url
    data["apps"]["espalier.mdm"]["sweeps"] = {"renotify_seconds": 600}
    path.write_text(json.dumps(data, indent=2))
    return path
