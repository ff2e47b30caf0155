"""espalier enrollment create | list"""
from __future__ import annotations

import click

from espalier.services import enrollments as svc
from espalier.services.errors import ServiceError

from .common import fail, runtime_from


@click.group("enrollment")
def enrollment() -> None:
    """Over-the-air enrollments (the URL devices enroll with)."""


def _show(rt, e) -> None:
    secret = svc.reveal_secret(rt.secrets, e)
    click.echo(f"{e.id:>4}  {e.name:<24} {rt.settings.base_url}/public/enroll/{secret}/")


@enrollment.command("create")
@click.option("--name", required=True)
@click.option("--display-name")
@click.option("--push-certificate", "push_certificate", required=True, type=int, help="Push certificate id.")
@click.option("--one-time", is_flag=True, help="The link works for one enrollment only.")
@click.option("--attestation", type=click.Choice(["apple", "none"]), default="apple", show_default=True,
              help="apple: devices prove their UDID with their Apple identity first; none: the plain "
                   "profile (labs, simulated devices), which cannot claim an enrolled device.")
@click.option("--quiet", is_flag=True, help="Print only the secret.")
@click.pass_context
def create(ctx, name, display_name, push_certificate, one_time, attestation, quiet) -> None:
    """Create an OTA enrollment with the built-in SCEP CA and print its URL."""
    rt = runtime_from(ctx)
    data = {"name": name, "push_certificate": push_certificate, "reusable": not one_time,
            "attestation": attestation}
    if display_name:
        data["display_name"] = display_name
    with rt.db.session() as s, s.begin():
        try:
            e = svc.create(s, rt.secrets, data)
        except ServiceError as exc:
            fail(exc.detail)
        if quiet:
            click.echo(svc.reveal_secret(rt.secrets, e))
        else:
            _show(rt, e)


@enrollment.command("list")
@click.pass_context
def list_(ctx) -> None:
    """List OTA enrollments and their URLs."""
    rt = runtime_from(ctx)
    with rt.db.session() as s:
        for e in svc.list_all(s):
            _show(rt, e)
