"""espalier push-certificate add | renew | list"""
from __future__ import annotations

from pathlib import Path

import click

from espalier.services import push_certificates as svc
from espalier.services.errors import ServiceError

from .common import fail, runtime_from


@click.group("push-certificate")
def push_certificate() -> None:
    """APNs push certificates. Renew (same topic) before they expire; never re-create."""


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {exc}")


def _data(name, certificate, private_key, password_file) -> dict:
    data = {"certificate": _read(certificate), "private_key": _read(private_key)}
    if name:
        data["name"] = name
    if password_file:
        data["private_key_password"] = _read(password_file).rstrip("\n")
    return data


def _show(pc) -> None:
    flag = "EXPIRED" if pc.is_expired() else ("expiring" if pc.is_expiring() else pc.state())
    click.echo(f"{pc.id:>4}  {pc.name:<24} {pc.topic}  not_after {pc.not_after:%Y-%m-%d} "
               f"({pc.days_left()} days)  {flag}")


@push_certificate.command("add")
@click.option("--name", required=True)
@click.option("--certificate", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The certificate downloaded from Apple (PEM).")
@click.option("--private-key", required=True, type=click.Path(exists=True, dir_okay=False),
              help="push.key from `espalier mdmcerts req`.")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False),
              help="File holding the private key's password.")
@click.pass_context
def add(ctx, name, certificate, private_key, password_file) -> None:
    """Add a certificate with a new topic."""
    rt = runtime_from(ctx)
    with rt.db.session() as s, s.begin():
        try:
            pc = svc.add(s, rt.secrets, _data(name, certificate, private_key, password_file))
        except ServiceError as exc:
            fail(exc.detail)
        _show(pc)


@push_certificate.command("renew")
@click.argument("cert_id", type=int)
@click.option("--certificate", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--private-key", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def renew(ctx, cert_id, certificate, private_key, password_file) -> None:
    """Replace a certificate by its renewal (the topic must stay the same)."""
    rt = runtime_from(ctx)
    with rt.db.session() as s, s.begin():
        try:
            pc = svc.renew(s, rt.secrets, cert_id, _data(None, certificate, private_key, password_file))
        except ServiceError as exc:
            fail(exc.detail)
        _show(pc)


@push_certificate.command("list")
@click.pass_context
def list_(ctx) -> None:
    """List certificates with their topic and expiry."""
    rt = runtime_from(ctx)
    with rt.db.session() as s:
        for pc in svc.list_all(s):
            _show(pc)
