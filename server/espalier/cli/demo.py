"""espalier demo: set up (once) and describe the demo `./run serve` offers on the embedded default."""
from __future__ import annotations

import click

from espalier.services import demo as svc

from .common import runtime_from


def _embedded(settings) -> bool:
    return not settings["redis_url"] and settings["database_url"].startswith("sqlite")


@click.command("demo")
@click.option("--url", required=True, help="The URL the server is about to serve.")
@click.option("--cli", default="./run espalier", show_default=True, help="How to call this CLI from the shell.")
@click.option("--ansible", "ansible_cmd", default="./run ansible", show_default=True,
              help="How to call ansible with the collection reachable.")
@click.option("--collections", "collections_path", default=None, help="The ANSIBLE_COLLECTIONS_PATH prepared.")
@click.pass_context
def demo(ctx, url: str, cli: str, ansible_cmd: str, collections_path: str | None) -> None:
    """Set up the demo (throw-away push certificate, lab enrollment, first admin token) and print
    commands to try it. Only on the embedded default (SQLite, no Redis)."""
    rt = runtime_from(ctx)
    if not _embedded(rt.settings):
        click.echo(f"Espalier: {url} (not the embedded default, so no demo; tokens: {cli} token create ...)")
        return
    with rt.db.session() as s, s.begin():
        d = svc.set_up(s, rt.secrets)
    token = d.token or "$ESPALIER_TOKEN"
    out = click.echo
    out("")
    out("Espalier demo: embedded default (SQLite + in-process queue), for trying, not for production")
    out(f"  URL          {url}   (console: {url}/console/)")
    if d.token:
        out(f"  admin token  {d.token}   (shown this once; more: {cli} token create --user admin --role admin)")
    else:
        out(f"  admin token  not shown again; make one: {cli} token create --user admin --role admin --quiet")
    out(f"  push cert    {svc.DEMO_CERT_NAME!r}: self-made, APNs would refuse it, so devices are not woken;")
    out("               the simulated devices below poll instead")
    out(f"  enrollment   {url}/public/enroll/{d.enrollment_secret}/   (attestation none)")
    out("")
    out("In another shell, from the repository root:")
    if not d.token:
        out(f"  export ESPALIER_TOKEN=$({cli} token create --user admin --role admin --quiet)")
    out("  # enroll 3 simulated Macs that stay online for an hour, answering commands every 2 s")
    out(f"  {cli} simulate --url {url} --enrollment {d.enrollment_secret} --devices 3 --platform mac"
        " --stay 3600 --poll 2")
    out("  # the devices through the API")
    header = f"'Authorization: Token {d.token}'" if d.token else '"Authorization: Token $ESPALIER_TOKEN"'
    out(f"  curl -H {header} {url}/api/mdm/devices/")
    reach = f" (ANSIBLE_COLLECTIONS_PATH={collections_path} holds this checkout as espalier.mdm)" \
        if collections_path else ""
    out(f"  # lock device 1 with Ansible and wait for its acknowledgement{reach}")
    out(f"  ESPALIER_URL={url} ESPALIER_TOKEN={token} {ansible_cmd} localhost -m espalier.mdm.device_lock"
        " -a 'id=1 pin=123456 wait=true wait_timeout=60'")
    out("")
