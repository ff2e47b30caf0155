"""What the server holds and spends: sampled once a second, and read around each window.

``Sampler``: PostgreSQL connections, RQ queues, RSS and CPU, once a second. ``Meters``: the
CPU of gunicorn, the workers, the PostgreSQL backends and the bench client, read at once.

    sampler = Sampler(dbname, redis_url, web=server.pids, workers=workers.pids)
    with sampler:  # a thread samples every second until the block ends
        ...
    sampler.between(t0, t1)  # the samples of one phase

Everything is read from outside the server (``pg_stat_activity``, RQ's keys, ``/proc``), so
the figures do not depend on how the server is written and cost it nothing.
"""
from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from common import PG_ADMIN, PostgresCpu, cpu_seconds

if TYPE_CHECKING:
    from common import Gunicorn
    from load_stack import Workers

    from espalier.sim.fleet import Fleet

PAGE = os.sysconf("SC_PAGE_SIZE")
QUEUES = ("push", "default", "sync")  # espalier.tasks.queue.QUEUES; RQ's queue is "espalier:<name>"


@dataclass
class Sample:
    t: float  # time.monotonic()
    pg_states: Counter  # backends of the bench database by state ("active", "idle", ...)
    queued: dict[str, int]  # RQ jobs waiting, by queue
    started: int  # RQ jobs running (the started registries)
    rss_web: float  # MiB, gunicorn master + workers
    rss_worker: float  # MiB, espalier workers
    cpu_web: float  # CPU seconds so far
    cpu_worker: float
    pg_cpu: dict[int, float] = field(default_factory=dict)  # backend pid -> CPU seconds so far
    pg_web: int = 0  # connections to PostgreSQL that gunicorn's processes hold
    pg_worker: int = 0  # ... that the espalier workers hold

    @property
    def pg_held(self) -> int:
        return sum(self.pg_states.values())

    @property
    def queue_total(self) -> int:
        return sum(self.queued.values())


def pg_client_ports(pids: list[int]) -> set[int]:
    """Local ports of the TCP connections to 127.0.0.1:5432 that these processes hold."""
    inodes = set()
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, PermissionError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(FileNotFoundError, OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[2].endswith(":1538") and fields[9] in inodes:  # remote port 5432
            ports.add(int(fields[1].split(":")[1], 16))
    return ports


def rss_mib(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


class Sampler(threading.Thread):
    """Samples every ``every`` seconds from a thread of its own; ``samples`` grows until stopped."""

    def __init__(self, dbname: str, redis_url: str, *, web: Callable[[], list[int]],
                 workers: Callable[[], list[int]], every: float = 1.0) -> None:
        super().__init__(name="bench-sampler", daemon=True)
        from redis import Redis
        from rq import Queue

        self.dbname, self.web, self.workers, self.every = dbname, web, workers, every
        self.redis = Redis.from_url(redis_url)
        self.queues = {name: Queue(f"espalier:{name}", connection=self.redis) for name in QUEUES}
        self.samples: list[Sample] = []
        self._stopping = threading.Event()
        self._pg = psycopg.connect(PG_ADMIN, autocommit=True)  # to the postgres database: not counted

    def sample(self) -> Sample:
        rows = self._pg.execute("SELECT pid, coalesce(state, '?'), client_port FROM pg_stat_activity "
                                "WHERE datname = %s", (self.dbname,)).fetchall()
        web, workers = self.web(), self.workers()
        ports = [port for _, _, port in rows]
        web_ports, worker_ports = pg_client_ports(web), pg_client_ports(workers)
        return Sample(
            t=time.monotonic(), pg_states=Counter(state for _, state, _ in rows),
            queued={name: q.count for name, q in self.queues.items()},
            started=sum(q.started_job_registry.count for q in self.queues.values()),
            rss_web=sum(map(rss_mib, web)), rss_worker=sum(map(rss_mib, workers)),
            cpu_web=sum(map(cpu_seconds, web)), cpu_worker=sum(map(cpu_seconds, workers)),
            pg_cpu={pid: cpu_seconds(pid) for pid, _, _ in rows},
            pg_web=sum(p in web_ports for p in ports), pg_worker=sum(p in worker_ports for p in ports))

    def run(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            with contextlib.suppress(Exception):  # a sample lost to a busy machine is not a failure
                self.samples.append(self.sample())
            self._stopping.wait(max(0.0, self.every - (time.monotonic() - started)))

    def __enter__(self) -> Sampler:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self.join(5)
        self._pg.close()
        self.redis.close()

    def between(self, t0: float, t1: float) -> list[Sample]:
        return [s for s in self.samples if t0 <= s.t <= t1]


@dataclass
class Meters:
    """CPU of every server part, read at once: a window's cost is the difference of two."""

    server: Gunicorn
    workers: Workers
    pg: PostgresCpu

    def read(self) -> tuple[float, float, dict, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return (self.server.cpu_seconds(), self.workers.cpu_seconds(), self.pg.snapshot(),
                usage.ru_utime + usage.ru_stime)

    @staticmethod
    def spent(before, after) -> dict[str, float]:
        return {"web": after[0] - before[0], "worker": after[1] - before[1],
                "pg": PostgresCpu.delta(before[2], after[2]), "client": after[3] - before[3]}


def wait_drained(sampler: Sampler, fleet: Fleet, timeout: float) -> bool:
    """Until no job waits or runs and no pushed device is still connecting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = sampler.sample()
        if s.queue_total == 0 and s.started == 0 and fleet.wait_for_pushes(0.2):
            return True
        time.sleep(0.2)
    return False
