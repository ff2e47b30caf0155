"""The wired-up server: settings, database, secret box and task queue, built once per process.

Flask keeps it in ``app.extensions["espalier"]``; RQ jobs, which run without a request,
reach it through ``current()``. Nothing is built at import time.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from espalier.db import Database
from espalier.pki.secrets import SecretBox
from espalier.settings import Settings

_current: "Runtime | None" = None


@dataclass
class Runtime:
    settings: Settings
    db: Database
    secrets: SecretBox
    queue: "object"  # espalier.tasks.queue.TaskQueue

    def close(self) -> None:
        close = getattr(self.queue, "close", None)
        if close:
            close()
        self.db.dispose()


def build(settings: Settings, *, queue=None, log_level: str | None = None) -> Runtime:
    """Build the runtime for ``settings`` and make it the process's current one."""
    global _current
    from espalier.tasks.queue import make_queue

    logging.basicConfig(level=(log_level or settings["log_level"]).upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    runtime = Runtime(settings=settings, db=Database(settings["database_url"]),
                      secrets=SecretBox(settings["secret_keys"]), queue=None)
    runtime.queue = queue if queue is not None else make_queue(settings)
    _current = runtime
    return runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("espalier runtime is not initialised in this process")
    return _current


def set_current(runtime: Runtime | None) -> None:
    global _current
    _current = runtime
