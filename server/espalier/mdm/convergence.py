"""Convergence: once a device's queue is drained, the next profile command its blueprint calls for.

On each connect whose queue is empty: InstallProfile for an in-scope artifact whose newest
in-scope version is not on the device, RemoveProfile for a profile we installed whose
artifact left the device's scope (never one we did not install). One command at a time;
its result moves the ``DeviceArtifact`` row (``record_result``), a ProfileList answer
corrects the rows against what the device really has (``reconcile``). The caller holds the
device row lock, so concurrent connects of one device cannot queue the same command twice;
a pending row that names a live command is never queued again.

Reads per connect: the device's rows (with their profile identifiers), and, when it is on
a blueprint, its profile candidates in one joined query; its tags only when a candidate
filters on tags, its pending artifact commands only when a row waits for one. None on an
Idle connect or a report of a converged device: one that found nothing to do, with no row pending, at
the convergence epoch the connect read (models/convergence_epoch.py), is marked with that
epoch, and its reads are skipped until the epoch moves or the mark is cleared.
"""
from __future__ import annotations

import logging
from collections import defaultdict

from sqlalchemy import bindparam, select
from sqlalchemy.orm import defer

from espalier.models import (Artifact, ArtifactVersion, BlueprintArtifact, DeviceArtifact, DeviceCommand, MachineTag,
                             Profile, convergence_epoch)

from . import legacy_profiles, queue, scope
from .results import stored

log = logging.getLogger(__name__)

INSTALL, REMOVE = "Installation", "Removal"
SUCCESS = "Acknowledged"

_ROWS = (select(DeviceArtifact, Profile.payload_identifier, Profile.payload_uuid)
         .join(Profile, Profile.artifact_version_id == DeviceArtifact.artifact_version_id)
         .where(DeviceArtifact.enrolled_device_id == bindparam("device_id")))
PROFILE_CANDIDATES = (select(BlueprintArtifact, Artifact, ArtifactVersion, Profile)  # also mdm/legacy_profiles
               .join(Artifact, Artifact.id == BlueprintArtifact.artifact_id)
               .join(ArtifactVersion, ArtifactVersion.artifact_id == Artifact.id)
               .join(Profile, Profile.artifact_version_id == ArtifactVersion.id)
               .where(BlueprintArtifact.blueprint_id == bindparam("blueprint_id"), Artifact.type == "Profile",
                      Artifact.channel == "Device")
               .order_by(BlueprintArtifact.id, ArtifactVersion.version.desc())
               .options(defer(Profile.source)))  # the payload is read only to install it
_TAGS = select(MachineTag.tag_id).where(MachineTag.serial_number == bindparam("serial_number"))
_LIVE_COMMANDS = select(DeviceCommand.uuid).where(
    DeviceCommand.enrolled_device_id == bindparam("device_id"), DeviceCommand.enrolled_user_id.is_(None),
    DeviceCommand.is_pending, DeviceCommand.artifact_version.is_not(None))


def next_command(ctx, device) -> DeviceCommand | None:
    if device.blueprint_id is not None and legacy_profiles.applies(ctx.blueprint(device.blueprint_id), device):
        return None  # its profiles are declarations (mdm/ddm.py)
    if ctx.epoch is not None and device.converged_epoch == ctx.epoch:
        return None  # nothing it reads changed since it last found nothing to do
    if ctx.epoch is not None:
        convergence_epoch.evaluating(ctx.s, device.id)
    rows = ctx.s.execute(_ROWS, {"device_id": device.id}).all()
    command = _next(ctx, device, rows)
    # marked when the evaluation read something (a device on no blueprint and with no rows read
    # one empty result: its mark would be a row write to save that read)
    if (command is None and ctx.epoch is not None and (device.blueprint_id is not None or rows)
            and not any(r.DeviceArtifact.status == "pending" for r in rows)):
        convergence_epoch.mark(ctx.s, device.id, converged_epoch=ctx.epoch)
    return command


def _next(ctx, device, rows) -> DeviceCommand | None:
    s = ctx.s
    if device.blueprint_id is None and not rows:
        return None
    candidates = s.execute(PROFILE_CANDIDATES, {"blueprint_id": device.blueprint_id}).all() if device.blueprint_id else []
    tags: set[int] = set()
    if device.serial_number and any(scope.has_tag_filters(c.BlueprintArtifact) or scope.has_tag_filters(
            c.ArtifactVersion) for c in candidates):
        tags = set(s.scalars(_TAGS, {"serial_number": device.serial_number}))
    live: set[str] = set()
    if any(r.DeviceArtifact.status == "pending" and r.DeviceArtifact.command_uuid for r in rows):
        live = set(s.scalars(_LIVE_COMMANDS, {"device_id": device.id}))
    by_artifact: dict[str, list] = defaultdict(list)
    for r in rows:
        by_artifact[r.DeviceArtifact.artifact_id].append(r)
    key = device.serial_number or device.udid
    desired = scope.newest_in_scope(candidates, device, key, tags)
    installed = {a for a, rs in by_artifact.items() if any(r.DeviceArtifact.status == "installed" for r in rs)}

    for artifact_id, (artifact, version, profile) in desired.items():
        if any(req not in installed for req in artifact.requires or ()):
            continue  # installed once what it requires is
        mine = by_artifact.get(artifact_id, [])
        if _satisfied(mine, version.id, artifact.auto_update, live):
            stale = [r for r in mine if r.DeviceArtifact.artifact_version_id != version.id
                     and r.DeviceArtifact.status == "installed" and r.payload_identifier != profile.payload_identifier]
            if stale and _settled(mine, version.id):
                return _remove(ctx, device, stale[0])
            continue
        return _install(ctx, device, artifact_id, version, profile, mine)
    for artifact_id, mine in by_artifact.items():
        if artifact_id in desired:
            continue
        for r in mine:
            if r.DeviceArtifact.status == "installed":
                return _remove(ctx, device, r)
    return None


def _satisfied(mine, version_id: str, auto_update: bool, live: set[str]) -> bool:
    for r in mine:
        row = r.DeviceArtifact
        if row.artifact_version_id == version_id:
            if row.status in ("installed", "failed"):
                return True
            if row.status == "pending" and row.command_uuid in live:
                return True
    # auto_update off: a device that has a version keeps it
    return not auto_update and any(r.DeviceArtifact.status == "installed" for r in mine)


def _settled(mine, version_id: str) -> bool:
    return any(r.DeviceArtifact.artifact_version_id == version_id and r.DeviceArtifact.status == "installed"
               for r in mine)


def _install(ctx, device, artifact_id: str, version, profile, mine) -> DeviceCommand:
    source = ctx.secrets.open_str(profile, "source")
    command = queue.add_command(ctx.s, ctx.secrets, device.id, "InstallProfile", {"Payload": source})
    row = next((r.DeviceArtifact for r in mine if r.DeviceArtifact.artifact_version_id == version.id), None)
    if row is None:
        row = DeviceArtifact(enrolled_device_id=device.id, artifact_id=artifact_id, artifact_version_id=version.id)
        ctx.s.add(row)
    _pending(command, row, version.id, INSTALL)
    log.info("device %s: install artifact version %s (v%s)", device.udid, version.id, version.version)
    return command


def _remove(ctx, device, r) -> DeviceCommand:
    command = queue.add_command(ctx.s, ctx.secrets, device.id, "RemoveProfile", {"Identifier": r.payload_identifier})
    _pending(command, r.DeviceArtifact, r.DeviceArtifact.artifact_version_id, REMOVE)
    log.info("device %s: remove artifact version %s", device.udid, r.DeviceArtifact.artifact_version_id)
    return command


def _pending(command: DeviceCommand, row: DeviceArtifact, version_id: str, operation: str) -> None:
    command.artifact_version, command.artifact_operation = version_id, operation
    row.status, row.operation, row.command_uuid, row.error_chain = "pending", operation, command.uuid, None


def record_result(ctx, device, command: DeviceCommand) -> None:
    """Move the row of an artifact command to its outcome (ignored when a newer command took over)."""
    row = ctx.s.scalar(select(DeviceArtifact).where(DeviceArtifact.enrolled_device_id == device.id,
                                                    DeviceArtifact.artifact_version_id == command.artifact_version))
    if row is None or row.command_uuid != command.uuid:
        return
    ok = command.status == SUCCESS
    if command.artifact_operation == REMOVE:
        row.status = "removed" if ok else "failed"
    else:
        row.status = "installed" if ok else "failed"
    row.error_chain = None if ok else stored(command.error_chain)
    if ok and row.status == "installed":
        _supersede(ctx, device, row)


def _supersede(ctx, device, row: DeviceArtifact) -> None:
    """Older versions with the same identifier were replaced by this one on the device."""
    identifier = ctx.s.scalar(select(Profile.payload_identifier).where(
        Profile.artifact_version_id == row.artifact_version_id))
    for other, other_identifier in ctx.s.execute(
            select(DeviceArtifact, Profile.payload_identifier)
            .join(Profile, Profile.artifact_version_id == DeviceArtifact.artifact_version_id)
            .where(DeviceArtifact.enrolled_device_id == device.id, DeviceArtifact.artifact_id == row.artifact_id,
                   DeviceArtifact.id != row.id, DeviceArtifact.status == "installed")).all():
        if other_identifier == identifier:
            other.status = "removed"


def reconcile(ctx, device, profile_list) -> int:
    """Correct the rows from a ProfileList answer; the number of rows changed."""
    if not isinstance(profile_list, list):
        return 0
    present = {p.get("PayloadIdentifier"): p.get("PayloadUUID") for p in profile_list if isinstance(p, dict)}
    changed = 0
    for row, identifier, payload_uuid in ctx.s.execute(_ROWS, {"device_id": device.id}).all():
        on_device = identifier in present
        if row.status == "installed" and not on_device:
            row.status, changed = "removed", changed + 1
        elif row.status in ("failed", "removed") and on_device and present[identifier] == payload_uuid:
            row.status, row.error_chain, changed = "installed", None, changed + 1
    if changed:
        log.info("device %s: %s artifact row(s) corrected from its ProfileList", device.udid, changed)
    return changed
