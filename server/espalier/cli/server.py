"""espalier init | serve | worker"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import click

from .common import fail, runtime_from, settings_from


@click.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", default=1, show_default=True, help="Processes (use a Redis queue when > 1).")
@click.option("--threads", default=8, show_default=True)
@click.pass_context
def serve(ctx: click.Context, bind: str, workers: int, threads: int) -> None:
    """Serve the web application with gunicorn."""
    from gunicorn.app.base import BaseApplication

    settings = settings_from(ctx)
    rt = runtime_from(ctx)  # fail early and clearly on an unmigrated database
    rt.close()
    from espalier.runtime import configure_logging
    from espalier.web.masking import use_access_log

    use_access_log(settings["access_log"])

    class App(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("accesslog", None if settings["access_log"] == "off" else "-")
            self.cfg.set("logger_class", "espalier.web.masking.MaskingLogger")  # no enrollment secrets in logs
            # Longer than any client's idle reuse (httpx: 5 s, Apple's URL loading: ~60 s), so the
            # server never closes a keep-alive connection while a device is sending on it.
            self.cfg.set("keepalive", 75)
            self.cfg.set("limit_request_line", 16384)  # SCEP GET PKIOperation carries the message in the URL
            if "control_socket_disable" in self.cfg.settings:
                # gunicorn 27's control socket has one default path per user: several servers on a
                # host (scale-out, tests) would fight over it, and nothing here uses it.
                self.cfg.set("control_socket_disable", True)

        def load(self):
            configure_logging(settings["log_level"])
            from espalier.app import create_app
            from espalier.tasks.maintenance import check_push_certificates
            from espalier.tasks.periodic import Beat

            app = create_app(settings)
            rt = app.extensions["espalier"]
            check_push_certificates(rt)
            if not settings["redis_url"]:  # embedded: recurring jobs run in this process
                Beat(rt).start()
            return app

    click.echo(f"Espalier serving {settings.base_url} (bound to {bind})")
    App().run()


@click.command()
@click.option("--queue", "queues", multiple=True, help="Queues to consume (default: all).")
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.pass_context
def worker(ctx: click.Context, queues: tuple[str, ...], burst: bool) -> None:
    """Run an RQ worker (requires redis_url)."""
    from espalier.runtime import build, configure_logging
    from espalier.tasks.maintenance import check_push_certificates
    from espalier.tasks.periodic import Beat
    from espalier.tasks.queue import QUEUES, RQTaskQueue
    from espalier.tasks.runner import serve_runtime

    settings = settings_from(ctx)
    if not settings["redis_url"]:
        fail("redis_url is not set: without Redis, jobs run inside `espalier serve`")
    names = queues or QUEUES
    unknown = set(names) - set(QUEUES)
    if unknown:
        fail(f"unknown queue(s) {', '.join(sorted(unknown))}; known: {', '.join(QUEUES)}")
    configure_logging(settings["log_level"])
    rt = build(settings)
    rt.db.check_migrated()
    serve_runtime(rt)
    q: RQTaskQueue = rt.queue
    check_push_certificates(rt)
    # The beat is a thread of this worker: it dies with it and outlives Redis restarts. It
    # also moves due delayed jobs to their queues, so RQ's scheduler process is not used.
    Beat(rt).start()
    q.work(names, burst=burst)


@click.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--database-url", default=None, help="Default: a SQLite file next to the settings.")
@click.option("--base-url", default="http://127.0.0.1:8000", show_default=True)
@click.option("--redis-url", default=None)
def init(path: str, database_url: str | None, base_url: str, redis_url: str | None) -> None:
    """Write a new settings file with a fresh secret key (never overwrites)."""
    p = Path(path)
    if p.exists():
        fail(f"{p} exists; not overwriting")
    p.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "base_url": base_url,
        "database_url": database_url or f"sqlite:///{(p.parent / 'espalier.db').resolve()}",
        "redis_url": redis_url,
        "secret_keys": [secrets.token_urlsafe(48)],
        "apps": {"espalier.mdm": {"mtls_proxy": False}},
    }
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    click.echo(f"settings written to {p}")
