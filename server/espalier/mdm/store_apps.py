"""Store apps: the scheduling step that installs and removes a blueprint's App Store apps.

On a connect with an empty queue, for the device's in-scope Store App artifacts: a licence
first (the device's serial assigned the location's asset; if not, a ``LicenceRequest`` is
queued and the app waits, without a command), then InstallApplication with the platform's
options. Its acknowledgement only means the device took the order, so a
ManagedApplicationList of that app follows ``CONFIRM_DELAY`` later and is asked again while
the app is on its way (``MAX_CHECKS`` times); its Status settles the row. A store app we
installed whose artifact left the device's scope is removed with RemoveApplication, and its
licence is given back (a DISASSOCIATE request).

Reads per connect: nothing when the blueprint lists no store app and the device holds none
(the Idle connect's session statement says whether it does); otherwise the device's store
app rows and the blueprint's candidates, and a licence lookup only for an app to install.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import bindparam, delete, exists, func, select
from sqlalchemy.orm import defer

from espalier.models import (Artifact, ArtifactVersion, Asset, BlueprintArtifact, DeviceArtifact, DeviceAssignment,
                             DeviceCommand, LicenceRequest, MachineTag, StoreApp)
from espalier.models.blueprints import STORE_APP

from . import queue, scope
from .convergence import INSTALL, REMOVE, SUCCESS, _pending, _satisfied
from .results import stored

log = logging.getLogger(__name__)

COMMANDS = frozenset({"InstallApplication", "RemoveApplication", "ManagedApplicationList"})
CONFIRM_DELAY = timedelta(seconds=15)
MAX_CHECKS = 10
INSTALLED = frozenset({"Managed", "UserInstalledApp"})
FAILED = frozenset({"Failed", "ManagementRejected", "UserRejected", "UpdateRejected", "ManagedButUninstalled"})
MAX_IDENTIFIER = 256

_ROWS = (select(DeviceArtifact, StoreApp)
         .join(StoreApp, StoreApp.artifact_version_id == DeviceArtifact.artifact_version_id)
         .where(DeviceArtifact.enrolled_device_id == bindparam("device_id"))
         .options(defer(StoreApp.configuration)))
_CANDIDATES = (select(BlueprintArtifact, Artifact, ArtifactVersion, StoreApp)
               .join(Artifact, Artifact.id == BlueprintArtifact.artifact_id)
               .join(ArtifactVersion, ArtifactVersion.artifact_id == Artifact.id)
               .join(StoreApp, StoreApp.artifact_version_id == ArtifactVersion.id)
               .where(BlueprintArtifact.blueprint_id == bindparam("blueprint_id"), Artifact.type == STORE_APP,
                      Artifact.channel == "Device")
               .order_by(BlueprintArtifact.id, ArtifactVersion.version.desc())
               .options(defer(StoreApp.configuration)))
_HOLDS = select(exists().where(DeviceArtifact.enrolled_device_id == bindparam("device_id"),
                               DeviceArtifact.status != "removed",
                               StoreApp.artifact_version_id == DeviceArtifact.artifact_version_id))
_LIVE_COMMANDS = select(DeviceCommand.uuid).where(
    DeviceCommand.enrolled_device_id == bindparam("device_id"), DeviceCommand.enrolled_user_id.is_(None),
    DeviceCommand.is_pending, DeviceCommand.artifact_version.is_not(None))


def next_command(ctx, device) -> DeviceCommand | None:
    blueprint = ctx.blueprint(device.blueprint_id)
    listed = blueprint is not None and blueprint.store_app_count > 0
    if not listed and not _holds(ctx, device):
        return None
    rows, desired, live = _state(ctx, device, blueprint.id if listed else None)
    by_artifact: dict[str, list] = defaultdict(list)
    for r in rows:
        by_artifact[r.DeviceArtifact.artifact_id].append(r)
    installed: set[str] = set()
    if any(artifact.requires for artifact, _, _ in desired.values()):  # profiles too: every artifact row
        installed = set(ctx.s.scalars(select(DeviceArtifact.artifact_id).where(
            DeviceArtifact.enrolled_device_id == device.id, DeviceArtifact.status == "installed")))

    for artifact_id, (artifact, version, store_app) in desired.items():
        if any(req not in installed for req in artifact.requires or ()):
            continue
        mine = by_artifact.get(artifact_id, [])
        if _satisfied(mine, version.id, artifact.auto_update, live):
            continue
        if _licensed(ctx, device, artifact_id, version.id, store_app, mine):
            return _install(ctx, device, artifact_id, version, store_app, mine)
    for artifact_id, mine in by_artifact.items():
        if artifact_id in desired:
            continue
        for r in mine:
            if r.DeviceArtifact.status == "installed":
                return _remove(ctx, device, r)
    return None


def _holds(ctx, device) -> bool:
    """Whether the device has store app rows not removed (known once the device was
    looked up: ``lookup.session_work``, ``lookup.enrolled_device``)."""
    if ctx.holds_store_apps is not None:
        return ctx.holds_store_apps
    return bool(ctx.s.scalar(_HOLDS, {"device_id": device.id}))


def _state(ctx, device, blueprint_id: int | None):
    """The device's store app rows, the newest in-scope version of each listed store app,
    and the live commands of its pending rows."""
    s = ctx.s
    rows = s.execute(_ROWS, {"device_id": device.id}).all()
    candidates = s.execute(_CANDIDATES, {"blueprint_id": blueprint_id}).all() if blueprint_id else []
    tags: set[int] = set()
    if device.serial_number and any(scope.has_tag_filters(c.BlueprintArtifact) or scope.has_tag_filters(
            c.ArtifactVersion) for c in candidates):
        tags = set(s.scalars(select(MachineTag.tag_id).where(MachineTag.serial_number == device.serial_number)))
    live: set[str] = set()
    if any(r.DeviceArtifact.status == "pending" and r.DeviceArtifact.command_uuid for r in rows):
        live = set(s.scalars(_LIVE_COMMANDS, {"device_id": device.id}))
    return rows, scope.newest_in_scope(candidates, device, device.serial_number or device.udid, tags), live


# -- licences ---------------------------------------------------------------------------

def _licensed(ctx, device, artifact_id: str, version_id: str, store_app: StoreApp, mine) -> bool:
    """Whether the device's serial holds a licence of the app; if not, one is asked for."""
    s, la = ctx.s, store_app.location_asset
    if device.serial_number and s.scalar(select(DeviceAssignment.id).where(
            DeviceAssignment.location_asset_id == la.id, DeviceAssignment.serial_number == device.serial_number)):
        return True
    if not device.serial_number:
        _fail(ctx, device, artifact_id, version_id, mine, "The device has no serial number to license the app to.")
        return False
    request = s.scalar(select(LicenceRequest).where(LicenceRequest.location_asset_id == la.id,
                                                    LicenceRequest.serial_number == device.serial_number))
    if request is None:
        s.add(LicenceRequest(location_asset_id=la.id, serial_number=device.serial_number, enrolled_device_id=device.id,
                             artifact_version_id=version_id, kind="ASSOCIATE", next_attempt_at=ctx.now))
        s.flush()
        ctx.licence_locations.add(la.location_id)
        log.info("device %s: licence of location asset %s requested", device.udid, la.id)
    elif request.kind == "DISASSOCIATE" and request.status != "requested":
        request.kind, request.status, request.attempts, request.error = "ASSOCIATE", "queued", 0, None
        request.next_attempt_at, request.enrolled_device_id, request.artifact_version_id = ctx.now, device.id, version_id
        ctx.licence_locations.add(la.location_id)
    elif request.kind == "ASSOCIATE" and request.status == "failed":
        _fail(ctx, device, artifact_id, version_id, mine, f"No licence from Apps and Books: {request.error}")
    return False


def _fail(ctx, device, artifact_id: str, version_id: str, mine, text: str) -> None:
    row = next((r.DeviceArtifact for r in mine if r.DeviceArtifact.artifact_version_id == version_id), None)
    if row is None:
        row = DeviceArtifact(enrolled_device_id=device.id, artifact_id=artifact_id, artifact_version_id=version_id)
        ctx.s.add(row)
    row.status, row.operation, row.command_uuid = "failed", INSTALL, None
    row.error_chain = [{"ErrorDomain": "Espalier.AppsAndBooks", "LocalizedDescription": text[:500]}]


# -- commands ---------------------------------------------------------------------------

def install_arguments(platform: str, adam_id: str, store_app: StoreApp, configuration: str | None) -> dict:
    """InstallApplication's keys for a platform: macOS installs as managed (macOS 11+);
    iOS, iPadOS and tvOS take over a copy the user installed and carry the app attributes."""
    args: dict = {"iTunesStoreID": int(adam_id) if adam_id.isdigit() else adam_id,
                  "Options": {"PurchaseMethod": 1}, "ManagementFlags": store_app.management_flags()}
    attributes: dict = {}
    if store_app.associated_domains:
        attributes["AssociatedDomains"] = list(store_app.associated_domains)
        if store_app.associated_domains_enable_direct_downloads:
            attributes["AssociatedDomainsEnableDirectDownloads"] = True
    if platform == "macOS":
        args["InstallAsManaged"] = True
        args["ManagementFlags"] &= 1  # PreventBackup does not exist there
    else:
        args["ChangeManagementState"] = "Managed"
        attributes["Removable"] = store_app.removable
        for key, value in (("VPNUUID", store_app.vpn_uuid), ("ContentFilterUUID", store_app.content_filter_uuid),
                           ("DNSProxyUUID", store_app.dns_proxy_uuid)):
            if value:
                attributes[key] = value
    if attributes:
        args["Attributes"] = attributes
    if configuration:
        args["Configuration"] = configuration  # plist text; a dictionary on the wire (commands/applications.py)
    return args


def _install(ctx, device, artifact_id: str, version, store_app: StoreApp, mine) -> DeviceCommand:
    asset = ctx.s.get(Asset, store_app.location_asset.asset_id)
    configuration = ctx.secrets.open_str(store_app, "configuration")  # deferred: read now, for this one
    command = queue.add_command(ctx.s, ctx.secrets, device.id, "InstallApplication",
                                install_arguments(device.platform, asset.adam_id, store_app, configuration))
    row = next((r.DeviceArtifact for r in mine if r.DeviceArtifact.artifact_version_id == version.id), None)
    if row is None:
        row = DeviceArtifact(enrolled_device_id=device.id, artifact_id=artifact_id, artifact_version_id=version.id)
        ctx.s.add(row)
    _pending(command, row, version.id, INSTALL)
    log.info("device %s: install store app %s (artifact version %s)", device.udid, asset.adam_id, version.id)
    return command


def _remove(ctx, device, r) -> DeviceCommand | None:
    row, store_app = r.DeviceArtifact, r.StoreApp
    bundle_id = ctx.s.scalar(select(Asset.bundle_id).where(Asset.id == store_app.location_asset.asset_id))
    if not bundle_id:
        row.status, row.operation, row.command_uuid = "failed", REMOVE, None
        row.error_chain = [{"ErrorDomain": "Espalier.AppsAndBooks",
                            "LocalizedDescription": "The app's bundle identifier is unknown: it cannot be removed."}]
        return None
    command = queue.add_command(ctx.s, ctx.secrets, device.id, "RemoveApplication", {"Identifier": bundle_id})
    _pending(command, row, row.artifact_version_id, REMOVE)
    log.info("device %s: remove store app %s (artifact version %s)", device.udid, bundle_id, row.artifact_version_id)
    return command


# -- results ----------------------------------------------------------------------------

def record_result(ctx, device, command: DeviceCommand) -> None:
    """Move the row of a store app command to its outcome (ignored when a newer command took over)."""
    s = ctx.s
    row = s.scalar(select(DeviceArtifact).where(DeviceArtifact.enrolled_device_id == device.id,
                                                DeviceArtifact.artifact_version_id == command.artifact_version))
    if row is None or row.command_uuid != command.uuid:
        return
    store_app = s.scalar(select(StoreApp).where(StoreApp.artifact_version_id == row.artifact_version_id))
    if command.status != SUCCESS:
        row.status, row.error_chain = "failed", stored(command.error_chain)
        return
    row.error_chain = None
    asset = s.get(Asset, store_app.location_asset.asset_id) if store_app is not None else None
    if command.name == "RemoveApplication":
        row.status = "removed"
        if store_app is not None:
            _give_back(ctx, device, store_app)
    elif command.name == "InstallApplication":
        identifier = (command.result or {}).get("Identifier")
        if isinstance(identifier, str) and 0 < len(identifier) <= MAX_IDENTIFIER and asset is not None:
            if not asset.bundle_id:
                asset.bundle_id = identifier  # the store does not say it; the device does
        if asset is not None and asset.bundle_id:
            _check(ctx, device, row, asset.bundle_id)
        else:
            _installed(ctx, device, row)
    elif command.name == "ManagedApplicationList":
        _confirm(ctx, device, command, row, asset.bundle_id if asset is not None else None)


def _check(ctx, device, row: DeviceArtifact, bundle_id: str) -> None:
    command = queue.add_command(ctx.s, ctx.secrets, device.id, "ManagedApplicationList", {"Identifiers": [bundle_id]})
    command.not_before = ctx.now + CONFIRM_DELAY
    _pending(command, row, row.artifact_version_id, INSTALL)


def _confirm(ctx, device, command: DeviceCommand, row: DeviceArtifact, bundle_id: str | None) -> None:
    answer = (command.result or {}).get("ManagedApplicationList")
    entry = answer.get(bundle_id) if isinstance(answer, dict) and bundle_id else None
    status = entry.get("Status") if isinstance(entry, dict) else None
    status = status[:64] if isinstance(status, str) else None
    if status in INSTALLED:
        _installed(ctx, device, row)
        return
    if status in FAILED or status is None:
        row.status = "failed"
        row.error_chain = [{"ErrorDomain": "ManagedApplicationList",
                            "LocalizedDescription": f"{bundle_id}: {status or 'not on the device'}"[:500]}]
        return
    checks = ctx.s.scalar(select(func.count(DeviceCommand.id)).where(
        DeviceCommand.enrolled_device_id == device.id, DeviceCommand.artifact_version == row.artifact_version_id,
        DeviceCommand.name == "ManagedApplicationList",
        DeviceCommand.created_at >= select(func.max(DeviceCommand.created_at)).where(
            DeviceCommand.enrolled_device_id == device.id, DeviceCommand.artifact_version == row.artifact_version_id,
            DeviceCommand.name == "InstallApplication").scalar_subquery()))
    if checks >= MAX_CHECKS:
        row.status = "failed"
        row.error_chain = [{"ErrorDomain": "ManagedApplicationList",
                            "LocalizedDescription": f"{bundle_id}: still {status} after {checks} checks"}]
        return
    _check(ctx, device, row, bundle_id)  # Installing, Queued, Prompting...: ask again later


def _installed(ctx, device, row: DeviceArtifact) -> None:
    """Installed; an older version of the same artifact was the same app: replaced."""
    row.status = "installed"
    for other in ctx.s.scalars(select(DeviceArtifact).where(
            DeviceArtifact.enrolled_device_id == device.id, DeviceArtifact.artifact_id == row.artifact_id,
            DeviceArtifact.id != row.id, DeviceArtifact.status == "installed")):
        other.status = "removed"


def _give_back(ctx, device, store_app: StoreApp) -> None:
    """The app is gone: its licence returns to the location, unless another version still uses it."""
    la = store_app.location_asset
    if not device.serial_number:
        return
    still = ctx.s.scalar(select(exists().where(
        DeviceArtifact.enrolled_device_id == device.id, DeviceArtifact.status.in_(("installed", "pending")),
        StoreApp.artifact_version_id == DeviceArtifact.artifact_version_id, StoreApp.location_asset_id == la.id)))
    if still:
        return
    ctx.s.execute(delete(LicenceRequest).where(LicenceRequest.location_asset_id == la.id,
                                               LicenceRequest.serial_number == device.serial_number))
    ctx.s.add(LicenceRequest(location_asset_id=la.id, serial_number=device.serial_number, enrolled_device_id=device.id,
                             kind="DISASSOCIATE", next_attempt_at=ctx.now))
    ctx.licence_locations.add(la.location_id)
