"""What every CLI command needs: the settings and a runtime, with clean failures."""
from __future__ import annotations

import sys

import click

from espalier import runtime
from espalier.settings import Settings, load


def fail(message: str, code: int = 2) -> None:
    click.echo(f"espalier: {message}", err=True)
    sys.exit(code)


def settings_from(ctx: click.Context) -> Settings:
    return load(ctx.find_root().obj["settings_path"])


def runtime_from(ctx: click.Context, *, check_migrated: bool = True) -> runtime.Runtime:
    from espalier.db import NotMigrated
    from espalier.tasks.queue import InProcessTaskQueue

    # CLI commands enqueue nothing long-running themselves; jobs they defer run inline.
    runtime.configure_logging("WARNING")
    rt = runtime.build(settings_from(ctx), queue=InProcessTaskQueue(sync=True))
    if check_migrated:
        try:
            rt.db.check_migrated()
        except NotMigrated as exc:
            fail(str(exc))
    return rt
