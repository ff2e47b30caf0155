"""espalier dep token-request | token-upload | list | sync: ADE (ABM/ASM) server tokens and device sync."""
from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from espalier.apple.abm import client_for
from espalier.models import DEPToken, DEPVirtualServer
from espalier.services import dep_devices, dep_tokens
from espalier.services.errors import ServiceError

from .common import fail, runtime_from


@click.group("dep")
def dep() -> None:
    """ADE virtual servers: server tokens (request, upload, renew) and device sync."""


@dep.command("token-request")
@click.option("--virtual-server", "server_id", type=int, help="Renew this server's token (a new key pair on it).")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write the certificate PEM here.")
@click.pass_context
def token_request(ctx, server_id, out) -> None:
    """Make a key pair; upload the certificate (PEM) it prints to ABM/ASM, then `token-upload` the p7m."""
    rt = runtime_from(ctx)
    with rt.db.session() as s, s.begin():
        try:
            token = (dep_tokens.renew_token(s, rt.secrets, server_id) if server_id
                     else dep_tokens.request_token(s, rt.secrets))
        except ServiceError as exc:
            fail(exc.detail)
        token_id, certificate = token.id, token.certificate
    if out:
        Path(out).write_text(certificate)
        click.echo(f"token {token_id}: certificate written to {out}")
    else:
        click.echo(f"# token {token_id}", err=True)
        click.echo(certificate, nl=False)


@dep.command("token-upload")
@click.argument("token_id", type=int)
@click.argument("p7m", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def token_upload(ctx, token_id, p7m) -> None:
    """Open the *_smime.p7m downloaded from ABM/ASM with the token's key; create or update the server."""
    rt = runtime_from(ctx)
    data = Path(p7m).read_bytes()
    with rt.db.session() as s, s.begin():
        try:
            server = dep_tokens.upload_token(s, rt.secrets, token_id, data,
                                             lambda creds: client_for(rt.settings.mdm["abm"], creds))
        except ServiceError as exc:
            fail(exc.detail)
        click.echo(f"virtual server {server.id}: {server.name} ({server.uuid})")


@dep.command("list")
@click.pass_context
def list_(ctx) -> None:
    """Virtual servers with their token's expiry."""
    rt = runtime_from(ctx)
    with rt.db.session() as s:
        for server, token in s.execute(select(DEPVirtualServer, DEPToken).outerjoin(
                DEPToken, DEPVirtualServer.token_id == DEPToken.id).order_by(DEPVirtualServer.id)):
            state = "no token"
            if token is not None and token.access_token_expiry:
                flag = "EXPIRED" if token.is_expired() else ("expiring" if token.is_expiring() else "ok")
                state = f"token expires {token.access_token_expiry:%Y-%m-%d} ({token.days_left()} days) {flag}"
            click.echo(f"{server.id:>4}  {server.name:<32} {server.uuid}  {state}")


@dep.command("sync")
@click.argument("server_id", type=int)
@click.option("--full", is_flag=True, help="Fetch every device again.")
@click.pass_context
def sync(ctx, server_id, full) -> None:
    """Sync a server's devices now (inline); prints the counts."""
    rt = runtime_from(ctx)
    with rt.db.session() as s, s.begin():
        try:
            dep_tokens.get_server(s, server_id)
        except ServiceError as exc:
            fail(exc.detail)
        task_id, started = dep_devices.start_sync(s, rt.queue, server_id, full)
    if not started:
        fail(f"a sync of this server is running (task {task_id})", 1)
    from espalier.models import TaskResult

    with rt.db.session() as s:
        task = s.get(TaskResult, task_id)
        if task.status != "finished":
            fail(f"sync {task.status}: {task.error}", 1)
        click.echo(" ".join(f"{k}={v}" for k, v in task.result.items()))
