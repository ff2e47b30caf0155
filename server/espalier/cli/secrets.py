"""espalier secrets status | rewrap"""
from __future__ import annotations

import click

from espalier.services import secrets as svc

from .common import runtime_from


@click.group("secrets")
def secrets() -> None:
    """Secrets at rest: which keys encrypt them, and re-encryption after adding a key."""


@secrets.command("status")
@click.pass_context
def status(ctx) -> None:
    """Stored secrets per key id (the first key in secret_keys is the one that encrypts)."""
    rt = runtime_from(ctx)
    with rt.db.session() as s:
        usage = svc.key_usage(s, rt.secrets)
    for kid, count in sorted(usage.items(), key=lambda item: str(item[0])):
        mark = "  (encrypting key)" if kid == rt.secrets.primary_key_id else ""
        click.echo(f"{kid}  {count:>8}{mark}")


@secrets.command("rewrap")
@click.pass_context
def rewrap(ctx) -> None:
    """Re-encrypt every stored secret with the first key; then the old keys can go."""
    rt = runtime_from(ctx)
    with rt.db.session() as s, s.begin():
        done = svc.rewrap(s, rt.secrets)
    click.echo(f"{done} secret(s) re-encrypted with key {rt.secrets.primary_key_id}")
