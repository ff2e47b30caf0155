"""espalier device list | release"""
from __future__ import annotations

import click
from sqlalchemy import or_, select

from espalier.models import EnrolledDevice
from espalier.services import audit
from espalier.services import devices as svc

from .common import fail, runtime_from


@click.group("device")
def device() -> None:
    """Enrolled devices."""


def _find(s, ref: str) -> EnrolledDevice:
    """A device by id, serial number or UDID (serial and UDID case-insensitive)."""
    match = [EnrolledDevice.serial_number.ilike(ref), EnrolledDevice.udid.ilike(ref)]
    if ref.isdigit() and len(ref) < 10:
        match.append(EnrolledDevice.id == int(ref))
    found = list(s.scalars(select(EnrolledDevice).where(or_(*match)).limit(2)))
    if len(found) != 1:
        fail(f"{'no' if not found else 'more than one'} device matches {ref!r}")
    return found[0]


@device.command("release")
@click.argument("ref", metavar="ID|SERIAL|UDID")
@click.pass_context
def release(ctx, ref: str) -> None:
    """Let the next enrollment of this device take it over without attestation (a device
    wiped or replaced without checking out). Until then its certificate keeps working."""
    rt = runtime_from(ctx)
    with rt.db.session() as s, s.begin():
        d = svc.release(s, _find(s, ref).id, audit.COMMAND_LINE)
        click.echo(f"device {d.id} ({d.serial_number}, {d.udid}) released at {d.released_at:%Y-%m-%d %H:%M:%S}")


@device.command("list")
@click.pass_context
def list_(ctx) -> None:
    """Devices with their platform, OS and state."""
    rt = runtime_from(ctx)
    with rt.db.session() as s:
        for d in s.scalars(select(EnrolledDevice).order_by(EnrolledDevice.id)):
            state = "blocked" if d.is_blocked else ("checked out" if d.checkout_at else
                                                     ("released" if d.released_at else "enrolled"))
            click.echo(f"{d.id:>6}  {d.serial_number or '-':<14} {d.platform or '-':<8} {d.os_version or '-':<8} "
                       f"{state:<11} {d.name or ''}")
