"""espalier db upgrade | current"""
from __future__ import annotations

import click
from sqlalchemy.exc import OperationalError

from .common import fail, runtime_from


@click.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command()
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Apply every pending migration."""
    rt = runtime_from(ctx, check_migrated=False)
    try:
        rt.db.upgrade(secret_keys=rt.settings["secret_keys"])
    except OperationalError as exc:
        fail(f"cannot reach the database: {str(exc.orig).strip().splitlines()[0]}")
    click.echo(f"database at revision {rt.db.current_revision()}")


@db.command()
@click.pass_context
def current(ctx: click.Context) -> None:
    """Print the current and the expected revision."""
    rt = runtime_from(ctx, check_migrated=False)
    click.echo(f"current {rt.db.current_revision()} head {rt.db.head_revision()}")
