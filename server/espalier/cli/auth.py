"""espalier user create | token create | token list | token revoke"""
from __future__ import annotations

import click

from espalier import permissions
from espalier.services import auth as svc

from .common import fail, runtime_from


@click.group()
def user() -> None:
    """Operators."""


@user.command("create")
@click.argument("username")
@click.option("--email")
@click.option("--exist-ok", is_flag=True, help="Succeed if the user already exists.")
@click.pass_context
def user_create(ctx: click.Context, username: str, email: str | None, exist_ok: bool) -> None:
    """Create an operator."""
    rt = runtime_from(ctx)
    with rt.db.session() as s, s.begin():
        try:
            svc.create_user(s, username, email)
        except svc.AuthError as exc:
            if not exist_ok:
                fail(str(exc))
    click.echo(f"user {username} ready")


@user.command("set-password")
@click.argument("username")
@click.option("--password-file", type=click.File("r"), help="Read the password from FILE (else: asked).")
@click.option("--permission", "perms", multiple=True, help="A permission codename for the console.")
@click.option("--role", "roles", multiple=True, type=click.Choice(sorted(permissions.ROLES)))
@click.pass_context
def user_set_password(ctx, username, password_file, perms, roles) -> None:
    """Set the user's console password (argon2id); --role/--permission set what the console allows."""
    if password_file is not None:
        password = password_file.readline().rstrip("\r\n")
    else:
        try:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        except click.Abort:
            fail("no terminal to ask for the password: pass --password-file FILE")
    rt = runtime_from(ctx)
    with rt.db.session() as s, s.begin():
        try:
            svc.set_password(s, username, password, list(perms), list(roles))
        except svc.AuthError as exc:
            fail(str(exc))
    click.echo(f"password of {username} set" + (f"; console: {', '.join(roles or perms)}" if roles or perms else ""))


@click.group()
def token() -> None:
    """API tokens (stored hashed; the key is shown once)."""


@token.command("create")
@click.option("--user", "username", required=True)
@click.option("--permission", "perms", multiple=True, help="A permission codename, e.g. mdm.view_enrolleddevice.")
@click.option("--role", "roles", multiple=True, type=click.Choice(sorted(permissions.ROLES)))
@click.option("--name", default="")
@click.option("--quiet", is_flag=True, help="Print only the key.")
@click.pass_context
def token_create(ctx, username, perms, roles, name, quiet) -> None:
    """Create a token with the given permissions and/or roles; print its key once."""
    if not perms and not roles:
        fail("give at least one --permission or --role")
    rt = runtime_from(ctx)
    with rt.db.session() as s, s.begin():
        try:
            tok, key = svc.create_token(s, username, list(perms), list(roles), name)
        except svc.AuthError as exc:
            fail(str(exc))
        codenames = sorted(tok.codenames)
    if quiet:
        click.echo(key)
        return
    click.echo(f"token {key[:8]} for {username} with {len(codenames)} permission(s); the key is shown only now:")
    click.echo(key)


@token.command("list")
@click.pass_context
def token_list(ctx) -> None:
    """List tokens (prefix, user, state)."""
    rt = runtime_from(ctx)
    with rt.db.session() as s:
        for t in svc.list_tokens(s):
            state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
            click.echo(f"{t.prefix}  {t.user.username:<20} {state:<18} {len(t.permissions)} permission(s)  {t.name}")


@token.command("revoke")
@click.argument("prefix_or_key")
@click.pass_context
def token_revoke(ctx, prefix_or_key: str) -> None:
    """Revoke a token by its 8-character prefix or its whole key."""
    rt = runtime_from(ctx)
    with rt.db.session() as s, s.begin():
        try:
            t = svc.revoke_token(s, prefix_or_key)
        except svc.AuthError as exc:
            fail(str(exc))
        click.echo(f"token {t.prefix} revoked")
