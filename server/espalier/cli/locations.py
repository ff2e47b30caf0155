"""espalier locations add | list"""
from __future__ import annotations

from pathlib import Path

import click

from espalier.services import locations as svc
from espalier.services.errors import ServiceError

from .common import fail, runtime_from


@click.group("locations")
def locations() -> None:
    """Apps and Books locations (one .vpptoken each). Upload a new token before the old one expires."""


def _show(loc) -> None:
    flag = "EXPIRED" if loc.is_expired() else ("expiring" if loc.is_expiring() else "ok")
    click.echo(f"{loc.id:>4}  {loc.name:<24} {loc.organization_name}  library {loc.library_uid}  token expires "
               f"{loc.server_token_expiration_date:%Y-%m-%d} ({loc.days_left()} days)  {flag}")


@locations.command("add")
@click.argument("token_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Take over a location another MDM server manages.")
@click.pass_context
def add(ctx, token_file, force) -> None:
    """Upload a .vpptoken: claim its location for this server, or renew the location of the same library."""
    try:
        content = Path(token_file).read_text(errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {token_file}: {exc}")
    rt = runtime_from(ctx)
    with rt.db.session() as s, s.begin():
        try:
            up = svc.upload(s, rt, content, force=force)
        except ServiceError as exc:
            fail(exc.detail)
        click.echo(f"location {up.action}:")
        _show(up.location)


@locations.command("list")
@click.pass_context
def list_(ctx) -> None:
    """Every location and how long its token has left."""
    rt = runtime_from(ctx)
    with rt.db.session() as s:
        for loc in svc.list_all(s):
            _show(loc)
