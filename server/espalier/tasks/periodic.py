"""The beat: start recurring jobs on schedule, and move due delayed jobs to their queue.

Every ``espalier worker`` runs one (and, with the embedded in-process queue, the web
process does); per period only one of them starts each job (``TaskQueue.claim``). A run
whose previous run is still queued or running is skipped with a warning, so a slow job
cannot pile up. Each run of a job has its own id, so finished runs kept by the queue never
block the next one. The beat survives queue outages: a failed tick is logged and retried.
The sweeps' periods come from the settings (``apps["espalier.mdm"]["sweeps"]``).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from espalier.tasks import apps_books as apps_books_jobs
from espalier.tasks import dep, licences, maintenance, push, software_updates, sweeps
from espalier.tasks.queue import Job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Every:
    func: Callable
    queue: str
    seconds: int

    @property
    def name(self) -> str:
        return self.func.__name__.replace("_", "-")


def default_schedule(sweep_settings: dict, sync_seconds: int = 86400, abm_settings: dict | None = None,
                     apps_books: dict | None = None) -> tuple[Every, ...]:
    """The recurring jobs; ``sweep_settings`` is the ``sweeps`` settings section, ``sync_seconds``
    the period of the software update catalogue sync, ``abm_settings`` the ``abm`` section,
    ``apps_books`` the ``apps_books`` one (location syncs, licence event polling)."""
    sync_minutes = (abm_settings or {}).get("sync_minutes") or 30
    apps_books = apps_books or {"sync_seconds": 86400, "event_poll_seconds": 300}
    return (
        Every(push.renotify_pending, "push", sweep_settings["renotify_seconds"]),
        Every(sweeps.redo_lost_tasks, "default", sweep_settings["lost_tasks_seconds"]),
        Every(maintenance.queue_due_inventories, "default", sweep_settings["inventory_seconds"]),
        Every(maintenance.check_push_certificates, "default", 86400),
        Every(maintenance.prune_inventory_commands, "default", 86400),
        Every(software_updates.sync_software_updates, "sync", sync_seconds),
        Every(dep.sync_all_virtual_servers, "default", sync_minutes * 60),
        Every(dep.check_dep_tokens, "default", 86400),
        Every(maintenance.check_locations, "default", 86400),
        Every(apps_books_jobs.sync_all_locations, "sync", apps_books["sync_seconds"]),
        Every(apps_books_jobs.poll_events, "sync", apps_books["event_poll_seconds"]),
        Every(licences.send_licence_requests, "default", 60),
    )


class Beat(threading.Thread):
    def __init__(self, rt, schedule: tuple[Every, ...] | None = None, tick: float | None = None):
        super().__init__(name="espalier-beat", daemon=True)
        if schedule is None:
            mdm = rt.settings.mdm
            schedule = default_schedule(mdm["sweeps"], mdm["software_updates"]["sync_seconds"], mdm["abm"],
                                        mdm["apps_books"])
        if tick is None:  # ticks often enough for the shortest period
            tick = min(5.0, max(0.5, min(entry.seconds for entry in schedule) / 4))
        self.rt, self.schedule, self.tick = rt, schedule, tick
        self._stopping = threading.Event()
        self._next = {entry.name: 0.0 for entry in schedule}
        self._last: dict[str, str] = {}

    def run_due(self, now: float | None = None) -> list[str]:
        """Start what is due; returns the names started (tests call this directly)."""
        now = time.monotonic() if now is None else now
        queue = self.rt.queue
        mover = getattr(queue, "move_due_scheduled", None)
        if mover is not None:
            mover()
        started = []
        for entry in self.schedule:
            if now < self._next[entry.name]:
                continue
            self._next[entry.name] = now + entry.seconds
            last = self._last.get(entry.name)
            if last and queue.is_live(last):
                log.warning("periodic job %s skipped: its previous run %s is still queued or running", entry.name, last)
                continue
            if not queue.claim(entry.name, entry.seconds):
                continue
            job = Job(entry.func, (), entry.queue, job_id=f"beat-{entry.name}-{int(time.time() * 1000)}")
            queue.submit(job)
            self._last[entry.name] = job.job_id
            started.append(entry.name)
        return started

    def run(self) -> None:
        while not self._stopping.wait(self.tick):
            try:
                self.run_due()
            except Exception as exc:  # Redis restarting, database down: try again next tick
                log.warning("beat tick failed (%s: %s); retrying in %.0f s", type(exc).__name__, exc, self.tick)

    def stop(self) -> None:
        self._stopping.set()
