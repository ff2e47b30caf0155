"""The `espalier` command: one click group per area, each a thin shell over services."""
from __future__ import annotations

import sys

import click

from espalier.settings import SettingsError


class _Group(click.Group):
    """Turns configuration errors into one clear line and exit status 2, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            click.echo(f"espalier: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.option("--settings", "settings_path", envvar="ESPALIER_SETTINGS", metavar="FILE",
              help="Settings file (JSON or YAML). Default: $ESPALIER_SETTINGS.")
@click.pass_context
def main(ctx: click.Context, settings_path: str | None) -> None:
    """Espalier: an Apple MDM server."""
    ctx.obj = {"settings_path": settings_path}


def _register() -> None:
    from espalier.cli import (auth, db, demo, dep, devices, enrollments, locations, mdmcerts, push, secrets, server,
                              simulate)

    for command in (db.db, auth.user, auth.token, server.serve, server.worker, server.init, push.push_certificate,
                    locations.locations,
                    enrollments.enrollment, devices.device, secrets.secrets, mdmcerts.mdmcerts, simulate.simulate,
                    demo.demo, dep.dep):
        main.add_command(command)


_register()
