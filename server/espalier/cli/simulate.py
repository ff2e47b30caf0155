"""`espalier simulate`: enroll a fleet of simulated devices against a server and drive it.

Needs no settings file: it talks to the server only over HTTP, as real devices do.
"""
from __future__ import annotations

import json
import signal
import sys
import threading
import time

import click

from espalier.sim.fleet import MIXES, Fleet


def _seconds(timings: dict[str, float]) -> str:
    return " ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items()) or "-"


def _print_summary(summary: dict) -> None:
    click.echo(f"devices   {summary['devices']}: {summary['enrolled']} enrolled, {summary['failed']} failed, "
               f"{summary['unenrolled_by_server']} unenrolled by the server")
    if summary["keys_ahead_seconds"]:
        click.echo(f"keys      made ahead in {summary['keys_ahead_seconds']:.1f} s (not in the enroll timings)")
    click.echo(f"enroll    {summary['enrollments_per_s']:.1f}/s  {_seconds(summary['enroll_seconds'])}")
    click.echo(f"connect   {summary['connects']} sessions, {summary['connects_per_s']:.1f}/s  "
               f"{_seconds(summary['connect_seconds'])}")
    for label in ("commands", "request_types"):
        counts = ", ".join(f"{k} {v}" for k, v in sorted(summary[label].items())) or "none"
        click.echo(f"{label.replace('_', ' '):<9} {counts}")
    for message, count in summary["errors"].items():
        click.echo(f"error     {count} x {message}", err=True)


def _write_devices(path: str, fleet: Fleet) -> None:
    with open(path, "w") as fh:
        for d in fleet.devices:
            if d.enrolled:
                fh.write(json.dumps({"serial_number": d.facts.serial, "udid": d.facts.udid,
                                     "platform": d.facts.platform, "model": d.facts.model}) + "\n")


def _stay_online(fleet: Fleet, seconds: float, poll: float) -> None:
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    deadline = time.monotonic() + seconds
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            fleet.connect_all(1)
            stop.wait(poll)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command("simulate")
@click.option("--url", required=True, help="Server base URL, e.g. https://mdm.example.com.")
@click.option("--enrollment", "enrollment", required=True, metavar="SECRET",
              help="Enrollment secret, or the enrollment's full enroll URL.")
@click.option("--devices", type=click.IntRange(1), default=10, show_default=True)
@click.option("--connects", type=click.IntRange(0), default=1, show_default=True,
              help="Connect rounds after enrolling.")
@click.option("--platform", type=click.Choice(sorted(MIXES)), default="mac", show_default=True)
@click.option("--signature", "identity_mode", flag_value="signature", help="Always send Mdm-Signature.")
@click.option("--mtls", "identity_mode", flag_value="mtls", help="Always send mTLS proxy headers.")
@click.option("--insecure", is_flag=True, help="Do not verify the server's TLS certificate.")
@click.option("--http2", is_flag=True, help="Offer HTTP/2.")
@click.option("--workers", type=click.IntRange(1), default=16, show_default=True, help="Devices working at once.")
@click.option("--keys-ahead/--keys-inline", default=True, show_default=True,
              help="Generate the devices' RSA keys before enrolling (untimed), or during enrollment.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--stay", type=click.FloatRange(0), default=0, show_default=True,
              help="Keep the devices online this many seconds (until SIGTERM), connecting every --poll seconds.")
@click.option("--poll", type=click.FloatRange(0.1), default=2.0, show_default=True)
@click.option("--devices-file", type=click.Path(dir_okay=False, writable=True),
              help="Write the enrolled devices (serial, udid, platform, model) as JSON lines here.")
def simulate(url: str, enrollment: str, devices: int, connects: int, platform: str, identity_mode: str | None,
             insecure: bool, http2: bool, workers: int, keys_ahead: bool, as_json: bool, stay: float,
             poll: float, devices_file: str | None) -> None:
    """Enroll simulated devices, run connect rounds, print a summary (exit 1 if any failed).

    Without APNs the devices cannot be woken; ``--stay`` keeps them polling instead, so
    commands queued meanwhile (e.g. by Ansible) are answered within ``--poll`` seconds.
    """
    enroll_url = enrollment if enrollment.startswith(("http://", "https://")) else None
    with Fleet(url, enrollment, devices, platform, http2=http2, verify=not insecure, workers=workers,
               enroll_url=enroll_url, identity_mode=identity_mode) as fleet:
        keygen = fleet.make_keys_ahead() if keys_ahead else 0.0
        fleet.enroll_all()
        fleet.connect_all(connects)
        if devices_file:
            _write_devices(devices_file, fleet)
        if stay:
            _stay_online(fleet, stay, poll)
        summary = {**fleet.summary(), "keys_ahead_seconds": keygen}
    if as_json:
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
    else:
        _print_summary(summary)
    sys.exit(1 if summary["failed"] else 0)
