"""The beat: enqueue recurring jobs (re-push pending devices, push certificate expiry check).

It runs in every `espalier worker` and, with the embedded in-process queue, in the web
process. Unique job ids keep several beats from piling up the same job.
"""
from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

SCHEDULE: tuple[tuple[str, str, int], ...] = (
    ("espalier.tasks.push:renotify_pending", "push", 30),
    ("espalier.tasks.maintenance:check_push_certificates", "default", 86400),
    ("espalier.tasks.maintenance:prune_inventory_commands", "default", 86400),
)


class Beat(threading.Thread):
    def __init__(self, queue, schedule=SCHEDULE, tick: float = 5.0):
        super().__init__(name="espalier-beat", daemon=True)
        self.queue, self.schedule, self.tick = queue, schedule, tick
        self._stop = threading.Event()
        self._next = {path: 0.0 for path, _, _ in schedule}

    def run_due(self, now: float) -> list[str]:
        ran = []
        for path, queue_name, every in self.schedule:
            if now >= self._next[path]:
                self._next[path] = now + every
                job_id = "beat-" + path.rsplit(":", 1)[1].replace("_", "-")
                try:
                    self.queue.submit(path, None, (), queue=queue_name, job_id=job_id)
                    ran.append(path)
                except Exception:
                    log.exception("cannot enqueue %s", path)
        return ran

    def run(self) -> None:
        while not self._stop.wait(self.tick):
            self.run_due(time.monotonic())

    def stop(self) -> None:
        self._stop.set()
