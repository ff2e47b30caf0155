"""Declarative Device Management: a device's declaration set, its tokens, the DDM check-in
endpoints and the scheduling step that asks a device to sync.

https://developer.apple.com/documentation/devicemanagement/declarative-management-protocol
A device's set is the newest in-scope version of each declaration artifact of its blueprint
(scoped as convergence scopes profiles), the declarations of ``DECLARATION_SOURCES``, and one
activation the server builds (``com.apple.activation.simple``, one stable identifier per
blueprint) that activates every configuration of the set. Each declaration's ServerToken
comes from its content; the DeclarationsToken is a hash over the sorted (Identifier,
ServerToken) pairs, so it changes exactly when the set does. The step queues one
DeclarativeManagement command when the set's token is neither the one the device last
fetched nor the one of the last command queued: a device never loops, and never gets two
commands for one token.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, defer

from espalier.models import (Artifact, ArtifactVersion, Blueprint, BlueprintArtifact, Declaration, DeviceArtifact,
                             DeviceCommand, EnrolledDevice, MachineTag)
from espalier.models import convergence_epoch
from espalier.models.blueprints import DECLARATION_KINDS, STORE_APP

from . import legacy_profiles, lookup, queue, scope, softwareupdate
from .errors import NotFound
from .identity import Identity
from .messages import DeclarativeManagement
from .platforms import ddm_capable

log = logging.getLogger(__name__)

KINDS = ("activation", "configuration", "asset", "management")
ITEM_KEYS = {"activation": "Activations", "configuration": "Configurations", "asset": "Assets",
             "management": "Management"}
ACTIVATION_TYPE = "com.apple.activation.simple"
COMMAND = "DeclarativeManagement"
RESERVED_PREFIX = "espalier."  # identifiers the server makes (the activation); refused from operators
MAX_OCTETS = 64  # Identifier and ServerToken (Apple)

DeclarationSource = Callable[[Any, EnrolledDevice], list[dict]]
StatusListener = Callable[[Any, EnrolledDevice, dict], None]
BlueprintCounter = Callable[[Session, list[int]], dict[int, int]]

# Extra declarations for a device, each {"Type", "Identifier", "ServerToken", "Payload"}:
# served, listed and counted in the token like the blueprint's own; configurations among
# them are activated. The blueprint's declaration artifacts and the activation are built in.
DECLARATION_SOURCES: tuple[DeclarationSource, ...] = (softwareupdate.declarations,)
# Called with a status report's StatusItems once it is stored.
STATUS_LISTENERS: tuple[StatusListener, ...] = (softwareupdate.record_status,)
# What else makes a blueprint's devices need DDM ({blueprint id: count}) for a source whose
# declarations are not declaration artifacts: added to Blueprint.declaration_count by recount.
BLUEPRINT_COUNTERS: tuple[BlueprintCounter, ...] = (softwareupdate.enforcements_by_blueprint,
                                                   legacy_profiles.profile_artifacts_by_blueprint)


def kind_of(declaration_type: str) -> str | None:
    parts = declaration_type.split(".")
    return parts[2] if len(parts) > 3 and parts[:2] == ["com", "apple"] and parts[2] in KINDS else None


def octets(value: str) -> int:
    return len(value.encode())


def content_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass
class Item:
    kind: str
    identifier: str
    server_token: str
    type: str
    payload: dict | None = None  # sources and the activation; artifact declarations open theirs when served
    declaration: Declaration | None = None
    artifact_id: str | None = None
    version_id: str | None = None
    legacy_profile: bool = False  # a profile version as com.apple.configuration.legacy (its URL made when served)


@dataclass
class DeclarationSet:
    items: dict[str, Item] = field(default_factory=dict)  # by identifier
    updated_at: datetime | None = None

    @property
    def token(self) -> str:
        return declarations_token_of(self.items.values())

    @property
    def timestamp(self) -> str:
        return (self.updated_at or datetime(2000, 1, 1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def versions(self) -> dict[str, Item]:
        return {i.version_id: i for i in self.items.values() if i.version_id}


def declarations_token_of(items) -> str:
    pairs = sorted((i.identifier, i.server_token) for i in items)
    return hashlib.sha256("\n".join(f"{a}\t{b}" for a, b in pairs).encode()).hexdigest()


_CANDIDATES = (select(BlueprintArtifact, Artifact, ArtifactVersion, Declaration)
               .join(Artifact, Artifact.id == BlueprintArtifact.artifact_id)
               .join(ArtifactVersion, ArtifactVersion.artifact_id == Artifact.id)
               .join(Declaration, Declaration.artifact_version_id == ArtifactVersion.id)
               .where(BlueprintArtifact.blueprint_id == bindparam("blueprint_id"),
                      Artifact.type.in_(list(DECLARATION_KINDS)), Artifact.channel == "Device")
               .order_by(BlueprintArtifact.id, ArtifactVersion.version.desc())
               .options(defer(Declaration.source)))  # opened only to serve it
_TAGS = select(MachineTag.tag_id).where(MachineTag.serial_number == bindparam("serial_number"))


def _orm(ctx, device) -> EnrolledDevice:
    return device if isinstance(device, EnrolledDevice) else lookup.loaded(ctx, device)


def declaration_set(ctx, device) -> DeclarationSet:
    """The declarations ``device`` (ORM device or session row) should have now."""
    dset = DeclarationSet()
    blueprint = ctx.blueprint(device.blueprint_id)
    if blueprint is not None and blueprint.declaration_count:
        candidates = ctx.s.execute(_CANDIDATES, {"blueprint_id": blueprint.id}).all()
        tags: set[int] = set()
        if device.serial_number and any(scope.has_tag_filters(c.BlueprintArtifact) or scope.has_tag_filters(
                c.ArtifactVersion) for c in candidates):
            tags = set(ctx.s.scalars(_TAGS, {"serial_number": device.serial_number}))
        desired = scope.newest_in_scope(candidates, device, device.serial_number or device.udid, tags)
        for artifact_id, (artifact, version, declaration) in desired.items():
            if declaration.identifier in dset.items:
                log.warning("declaration %s of artifact %s shadowed", declaration.identifier, artifact_id)
                continue
            dset.items[declaration.identifier] = Item(
                DECLARATION_KINDS[artifact.type], declaration.identifier, declaration.server_token, declaration.type,
                declaration=declaration, artifact_id=artifact_id, version_id=version.id)
            dset.updated_at = max(filter(None, (dset.updated_at, version.updated_at)))
    if legacy_profiles.applies(blueprint, device):
        for artifact_id, version, profile in legacy_profiles.declarations(ctx, device, blueprint):
            identifier = legacy_profiles.identifier(artifact_id)
            dset.items[identifier] = Item("configuration", identifier, legacy_profiles.server_token(version.id, profile),
                                          legacy_profiles.TYPE, artifact_id=artifact_id, version_id=version.id,
                                          legacy_profile=True)
            dset.updated_at = max(filter(None, (dset.updated_at, version.updated_at)))
    for source in DECLARATION_SOURCES:
        for d in source(ctx, _orm(ctx, device)):
            item = _source_item(d)
            if item is None or item.identifier in dset.items:
                log.warning("declaration source %s: ignored %r", getattr(source, "__name__", source),
                            str(d.get("Identifier") if isinstance(d, dict) else d)[:80])
                continue
            dset.items[item.identifier] = item
    activation = _activation(device.blueprint_id, [i.identifier for i in dset.items.values()
                                                   if i.kind == "configuration"])
    dset.items.setdefault(activation.identifier, activation)
    return dset


def _source_item(d: Any) -> Item | None:
    if not isinstance(d, dict) or not all(isinstance(d.get(k), str) for k in ("Type", "Identifier", "ServerToken")):
        return None
    kind = kind_of(d["Type"])
    if kind is None or not isinstance(d.get("Payload"), dict) or not d["Identifier"] or not d["ServerToken"] \
            or octets(d["Identifier"]) > MAX_OCTETS or octets(d["ServerToken"]) > MAX_OCTETS:
        return None
    return Item(kind, d["Identifier"], d["ServerToken"], d["Type"], payload=d["Payload"])


def activation_identifier(blueprint_id: int | None) -> str:
    return f"{RESERVED_PREFIX}activation.blueprint-{blueprint_id or 'none'}"


def _activation(blueprint_id: int | None, configurations: list[str]) -> Item:
    payload = {"StandardConfigurations": sorted(configurations)}
    identifier = activation_identifier(blueprint_id)
    return Item("activation", identifier, content_hash([ACTIVATION_TYPE, identifier, payload]), ACTIVATION_TYPE,
                payload=payload)


def declarations_token(ctx, device) -> str:
    """The DeclarationsToken of the set ``device`` should have now."""
    return declaration_set(ctx, device).token


def served(ctx, item: Item, device) -> dict[str, Any]:
    """The declaration as ``device`` fetches it."""
    payload = item.payload
    if item.legacy_profile:
        payload = {"ProfileURL": legacy_profiles.profile_url(ctx, device, item.version_id)}
    elif item.declaration is not None:
        payload = json.loads(ctx.secrets.open_str(item.declaration, "source") or "{}").get("Payload", {})
    return {"Type": item.type, "Identifier": item.identifier, "ServerToken": item.server_token, "Payload": payload}


# -- the check-in endpoints ------------------------------------------------------------------

def handle(ctx, msg: DeclarativeManagement, identity: Identity) -> bytes | None:
    """A DeclarativeManagement check-in: JSON answers (``status``: none)."""
    device = lookup.enrolled_device(ctx, msg.channel, identity)
    if msg.channel.user_id:
        raise NotFound("declarations are served on the device channel only")
    device.declarative_management = True
    endpoint = msg.endpoint
    if endpoint == "status":
        from . import ddm_status

        ddm_status.record(ctx, device, msg.data)
        return None
    if endpoint == "tokens":
        dset = declaration_set(ctx, device)
        device.declarations_token = dset.token
        return _json({"SyncTokens": {"DeclarationsToken": dset.token, "Timestamp": dset.timestamp}})
    if endpoint == "declaration-items":
        dset = declaration_set(ctx, device)
        device.declarations_token = dset.token
        lists: dict[str, list] = {key: [] for key in ITEM_KEYS.values()}
        for item in sorted(dset.items.values(), key=lambda i: i.identifier):
            lists[ITEM_KEYS[item.kind]].append({"Identifier": item.identifier, "ServerToken": item.server_token})
        _track_pending(ctx, device, dset)
        return _json({"Declarations": lists, "DeclarationsToken": dset.token})
    kind, _, identifier = endpoint.partition("/")[2].partition("/")
    if endpoint.startswith("declaration/") and kind in KINDS and identifier:
        item = declaration_set(ctx, device).items.get(identifier)
        if item is not None and item.kind == kind:
            return _json(served(ctx, item, device))
        raise NotFound(f"no {kind} declaration {identifier[:64]!r}")
    raise NotFound(f"unknown DeclarativeManagement endpoint {endpoint[:64]!r}")


def legacy_profile(ctx, token: str) -> bytes:
    """The .mobileconfig behind a legacy declaration's ProfileURL (NotFound unless the token is
    the device's and the version is still in its set)."""
    return legacy_profiles.profile_for(ctx, token, lambda device: {
        i.version_id for i in declaration_set(ctx, device).items.values() if i.legacy_profile})


def _json(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _track_pending(ctx, device: EnrolledDevice, dset: DeclarationSet) -> None:
    """A version the device is about to fetch gets its pending row (moved by status reports)."""
    versions = dset.versions()
    if not versions:
        return
    have = set(ctx.s.scalars(select(DeviceArtifact.artifact_version_id).where(
        DeviceArtifact.enrolled_device_id == device.id, DeviceArtifact.artifact_version_id.in_(list(versions)))))
    for version_id, item in versions.items():
        if version_id not in have:
            ctx.s.add(DeviceArtifact(enrolled_device_id=device.id, artifact_id=item.artifact_id,
                                     artifact_version_id=version_id, status="pending", operation="Installation"))


# -- enabling and syncing ----------------------------------------------------------------------

_PENDING_COMMAND = (select(DeviceCommand.id).where(
    DeviceCommand.enrolled_device_id == bindparam("device_id"), DeviceCommand.enrolled_user_id.is_(None),
    DeviceCommand.name == COMMAND, DeviceCommand.is_pending).limit(1))


def _may_have_declarations(ctx, device) -> bool:
    """Without a query when the blueprint lists no declaration (the shared blueprint SELECT
    aside) and the device never synced: then it has nothing to get nor to lose."""
    if not ddm_capable(device.platform, device.os_version):
        return False
    if device.declarations_token is not None or device.declarations_token_queued is not None:
        return True
    blueprint = ctx.blueprint(device.blueprint_id)
    return blueprint is not None and blueprint.declaration_count > 0


def needs_sync(ctx, device) -> bool:
    """Whether the scheduling step would ask ``device`` to sync now (its set changed since it
    last fetched it, and no command was queued for that set yet)."""
    if not _may_have_declarations(ctx, device):
        return False
    token = declarations_token(ctx, device)
    return token not in (device.declarations_token, device.declarations_token_queued)


def next_command(ctx, device) -> DeviceCommand | None:
    """The scheduling step: one DeclarativeManagement command for a set the device has not
    fetched, unless one is pending (the device syncs the newest set whenever it syncs)."""
    if not _may_have_declarations(ctx, device):
        return None
    if ctx.epoch is not None and (device.declarations_epoch, device.declarations_epoch_on) == (ctx.epoch, ctx.now.date()):
        return None  # nothing its set is made of changed since the step last found nothing to do
    dset = declaration_set(ctx, device)
    token = dset.token
    if token in (device.declarations_token, device.declarations_token_queued) or (
            len(dset.items) == 1 and device.declarations_token is None and device.declarations_token_queued is None):
        # nothing to sync (or only the empty activation: DDM is not turned on for nothing)
        if ctx.epoch is not None:
            convergence_epoch.mark(ctx.s, device.id, declarations_epoch=ctx.epoch, declarations_epoch_on=ctx.now.date())
        return None
    if ctx.s.scalar(_PENDING_COMMAND, {"device_id": device.id}) is not None:
        return None
    data = json.dumps({"SyncTokens": {"DeclarationsToken": token, "Timestamp": dset.timestamp}}).encode()
    command = queue.add_command(ctx.s, ctx.secrets, device.id, COMMAND, {"Data": base64.b64encode(data).decode()})
    if isinstance(device, EnrolledDevice):
        device.declarations_token_queued = token
    else:  # the Idle connect's session row
        ctx.s.execute(update(EnrolledDevice.__table__).where(EnrolledDevice.id == device.id).values(
            declarations_token_queued=token))
    log.info("device %s: DeclarativeManagement for declarations token %s", device.udid, token[:12])
    return command


def resync(s: Session, device_ids: list[int]) -> None:
    """Forget the last command's token: the step queues one again even for the same set
    (a device that lost its declarations)."""
    if device_ids:
        s.execute(update(EnrolledDevice).where(EnrolledDevice.id.in_(device_ids)).values(
            declarations_token_queued=None, declarations_token=None),  # the marks go with them
            execution_options={"synchronize_session": False})


def recount_blueprints(s: Session, blueprint_ids: list[int]) -> None:
    """Keep ``Blueprint.declaration_count`` true for these blueprints (their declaration
    artifacts, plus what ``BLUEPRINT_COUNTERS`` say), and ``store_app_count`` (their store
    app artifacts, mdm/store_apps.py)."""
    ids = sorted({b for b in blueprint_ids if b})
    if not ids:
        return
    counts = dict.fromkeys(ids, 0)
    counts.update(s.execute(select(BlueprintArtifact.blueprint_id, func.count()).join(
        Artifact, Artifact.id == BlueprintArtifact.artifact_id).where(
        BlueprintArtifact.blueprint_id.in_(ids), Artifact.type.in_(list(DECLARATION_KINDS)))
        .group_by(BlueprintArtifact.blueprint_id)).all())
    for counter in BLUEPRINT_COUNTERS:
        for blueprint_id, n in counter(s, ids).items():
            if blueprint_id in counts:
                counts[blueprint_id] += n
    for blueprint_id, n in counts.items():
        s.execute(update(Blueprint).where(Blueprint.id == blueprint_id, Blueprint.declaration_count != n)
                  .values(declaration_count=n))
    store_apps = dict.fromkeys(ids, 0)
    store_apps.update(s.execute(select(BlueprintArtifact.blueprint_id, func.count()).join(
        Artifact, Artifact.id == BlueprintArtifact.artifact_id).where(
        BlueprintArtifact.blueprint_id.in_(ids), Artifact.type == STORE_APP)
        .group_by(BlueprintArtifact.blueprint_id)).all())
    for blueprint_id, n in store_apps.items():
        s.execute(update(Blueprint).where(Blueprint.id == blueprint_id, Blueprint.store_app_count != n)
                  .values(store_app_count=n))
