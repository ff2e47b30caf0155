"""Artifacts and their profile versions, and the scope rules they share with blueprint artifacts.

A profile's source is stored as uploaded (base64, encrypted at rest); what the server needs
to know of it (identifier, UUID, names, hash) is read once, at upload. A new source under
the same version number resets that version on every device (it is installed again); a new
version number is a new version, and devices move to the newest one in scope.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from sqlalchemy import and_, delete, exists, false, or_, select, update
from sqlalchemy.orm import Session

from espalier.mdm import ddm
from espalier.mdm.commands.profiles import MAX_PROFILE, escrow_payload_types, read_profile
from espalier.models import Artifact, ArtifactVersion, BlueprintArtifact, DeviceArtifact, DeviceCommand, Profile, Tag
from espalier.models.blueprints import PLATFORMS
from espalier.pki.secrets import SecretBox
from espalier.services import fanout
from espalier.services.errors import NotFound, ServiceError
from espalier.services.rows import by_name, get_or_404

FILTER_FIELDS = tuple(f"{p.lower()}{suffix}" for p in PLATFORMS for suffix in ("", "_min_version", "_max_version")) + (
    "shard_modulo", "default_shard", "excluded_tags", "tag_shards")


def _invalid(errors: dict | list) -> ServiceError:
    return ServiceError("invalid input", errors)


# -- artifacts -------------------------------------------------------------------------------

def get_artifact(s: Session, artifact_id: str) -> Artifact:
    return get_or_404(s, Artifact, artifact_id)


def list_artifacts(s: Session, name: str | None = None) -> list[Artifact]:
    return by_name(s, Artifact, name, Artifact.created_at, Artifact.id)


def save_artifact(s: Session, rt, data: dict[str, Any], artifact_id: str | None = None) -> Artifact:
    artifact = get_artifact(s, artifact_id) if artifact_id else Artifact()
    errors = {}
    with s.no_autoflush:
        if s.scalar(select(Artifact.id).where(Artifact.name == data["name"], Artifact.id != (artifact.id or ""))):
            errors["name"] = ["artifact with this name already exists."]
        for pk in data.get("requires") or []:
            if pk == artifact.id or s.get(Artifact, pk) is None:
                errors["requires"] = [f'Invalid pk "{pk}" - object does not exist.']
                break
        if artifact_id and data.get("type") not in (None, artifact.type) and s.scalar(
                select(ArtifactVersion.id).where(ArtifactVersion.artifact_id == artifact.id).limit(1)):
            errors["type"] = ["The type of an artifact with versions cannot change."]
    if errors:
        raise _invalid(errors)
    for field, value in data.items():
        if value is not None:
            setattr(artifact, field, value)
    s.add(artifact)
    s.flush()
    if artifact_id:
        ddm.recount_blueprints(s, list(s.scalars(select(BlueprintArtifact.blueprint_id).where(
            BlueprintArtifact.artifact_id == artifact.id))))
        fanout.push_artifact_devices(s, rt, [artifact.id])
    return artifact


def delete_artifact(s: Session, artifact_id: str) -> None:
    """Refused while a blueprint lists it, a device may have it (installed, pending, or a failed
    removal) or a command for it is pending; otherwise its history rows go with it."""
    artifact = get_artifact(s, artifact_id)
    versions = select(ArtifactVersion.id).where(ArtifactVersion.artifact_id == artifact.id)
    used = s.scalar(select(or_(
        exists().where(BlueprintArtifact.artifact_id == artifact.id),
        exists().where(DeviceArtifact.artifact_id == artifact.id, DeviceArtifact.status != "removed",
                       ~and_(DeviceArtifact.status == "failed", DeviceArtifact.operation == "Installation")),
        exists().where(DeviceCommand.artifact_version.in_(versions), DeviceCommand.is_pending))))
    if used:
        raise _invalid(["This artifact cannot be deleted"])
    s.execute(delete(DeviceArtifact).where(DeviceArtifact.artifact_id == artifact.id))
    s.delete(artifact)


# -- the scope fields (Zentral's validate_filtered_blueprint_item_data) -------------------------

def validate_filtered(s: Session, data: dict[str, Any], artifact: Artifact | None) -> None:
    for platform in PLATFORMS:
        field = platform.lower()
        if data.get(field) and artifact is not None and platform not in artifact.platforms:
            raise _invalid({field: ["Platform not available for this artifact"]})
    if not any(data.get(p.lower()) for p in PLATFORMS):
        raise _invalid({"non_field_errors": ["You need to activate at least one platform"]})
    modulo, default = data.get("shard_modulo"), data.get("default_shard")
    if isinstance(modulo, int) and isinstance(default, int) and default > modulo:
        raise _invalid({"default_shard": ["Must be less than or equal to the shard modulo"]})
    excluded = data.get("excluded_tags") or []
    shards = data.get("tag_shards") or []
    wanted = set(excluded) | {ts["tag"] for ts in shards}
    names = dict(s.execute(select(Tag.id, Tag.name).where(Tag.id.in_(wanted))).all()) if wanted else {}
    for field, ids in (("excluded_tags", excluded), ("tag_shards", [ts["tag"] for ts in shards])):
        for pk in ids:
            if pk not in names:
                raise _invalid({field: [f'Invalid pk "{pk}" - object does not exist.']})
    for ts in shards:
        if ts["tag"] in excluded:
            raise _invalid({"excluded_tags": [f"Tag {names[ts['tag']]} also present in the tag shards"]})
        if isinstance(modulo, int) and ts["shard"] > modulo:
            raise _invalid({"tag_shards": [f"Shard for tag {names[ts['tag']]} > shard modulo"]})
    data["tag_shards"] = list({ts["tag"]: {"tag": ts["tag"], "shard": ts["shard"]} for ts in shards}.values())


# -- profiles --------------------------------------------------------------------------------

def profile_info(source_b64: str) -> tuple[bytes, dict[str, Any]]:
    """The decoded source and what is stored of it; a ``source`` field error when it is not
    a readable configuration profile (Zentral's texts where it has them)."""
    try:
        raw = base64.b64decode(source_b64, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid({"source": ["Must be base64."]}) from None
    if len(raw) > MAX_PROFILE:
        raise _invalid({"source": [f"Ensure this profile has no more than {MAX_PROFILE} bytes."]})
    profile = read_profile(raw)
    if profile is None:
        raise _invalid({"source": ["Not a plist"]})
    for key in ("PayloadIdentifier", "PayloadUUID"):
        if not isinstance(profile.get(key), str) or not profile[key].strip():
            raise _invalid({"source": [f"Missing {key}"]})
    scope = profile.get("PayloadScope", "User")
    if scope not in ("System", "User"):
        raise _invalid({"source": [f"Unknown PayloadScope: {scope}"]})
    if "EncryptedPayloadContent" in profile:
        raise _invalid({"source": ["Encrypted profiles cannot be checked and are refused."]})
    if escrowing := escrow_payload_types(profile):
        raise _invalid({"source": [f"FileVault escrow payloads ({', '.join(sorted(set(escrowing)))}) "
                                   "are made by the server only."]})

    def text(key: str, limit: int) -> str:
        value = profile.get(key)
        return value[:limit] if isinstance(value, str) else ""

    return raw, {"payload_identifier": profile["PayloadIdentifier"][:256], "payload_uuid": profile["PayloadUUID"][:256],
                 "payload_display_name": text("PayloadDisplayName", 256),
                 "payload_description": text("PayloadDescription", 2048),
                 "source_sha256": hashlib.sha256(raw).hexdigest()}


def get_profile(s: Session, version_id: str) -> Profile:
    profile = s.scalar(select(Profile).where(Profile.artifact_version_id == version_id))
    if profile is None:
        raise NotFound("No Profile matches the given query.")
    return profile


def list_profiles(s: Session) -> list[Profile]:
    return list(s.scalars(select(Profile).join(Profile.artifact_version)
                          .order_by(ArtifactVersion.created_at, ArtifactVersion.id)))


def profile_source(box: SecretBox, profile: Profile) -> str:
    return box.open_str(profile, "source") or ""


def version_artifact(s: Session, data: dict[str, Any], version_id: str | None) -> Artifact:
    """The artifact a new or updated version (profile, declaration) belongs to, with the checks
    every version passes: the artifact exists, the scope fields hold, the number is free."""
    artifact = s.get(Artifact, data["artifact"])
    if artifact is None:
        raise _invalid({"artifact": [f'Invalid pk "{data["artifact"]}" - object does not exist.']})
    validate_filtered(s, data, artifact)
    conflict = select(ArtifactVersion.id).where(ArtifactVersion.artifact_id == artifact.id,
                                                ArtifactVersion.version == data["version"])
    if version_id is not None:
        conflict = conflict.where(ArtifactVersion.id != version_id)
    if s.scalar(conflict):
        raise _invalid({"version": ["A version of this artifact with the same version number already exists"]})
    return artifact


def save_profile(s: Session, rt, data: dict[str, Any], version_id: str | None = None) -> Profile:
    profile = get_profile(s, version_id) if version_id else None
    with s.no_autoflush:
        artifact = version_artifact(s, data, profile.artifact_version_id if profile is not None else None)
    if artifact.type != "Profile":
        raise _invalid({"artifact": ["Not a profile artifact"]})
    raw, info = profile_info(data["source"])
    if profile is None:
        version = ArtifactVersion(artifact_id=artifact.id, version=data["version"])
        s.add(version)
        s.flush()
        profile = Profile(artifact_version_id=version.id, filename="")
        s.add(profile)
        changed = False
    else:
        version = profile.artifact_version
        changed = profile.source_sha256 != info["source_sha256"] or version.artifact_id != artifact.id
    old_artifact = version.artifact_id
    version.artifact_id = artifact.id
    version.version = data["version"]
    for field in FILTER_FIELDS:
        setattr(version, field, data[field])
    for field, value in info.items():
        setattr(profile, field, value)
    profile.filename = f"{info['payload_identifier']}.mobileconfig"[:256]
    s.flush()
    rt.secrets.seal(profile, "source", base64.b64encode(raw).decode())
    if old_artifact != artifact.id:
        s.execute(update(DeviceArtifact).where(DeviceArtifact.artifact_version_id == version.id)
                  .values(artifact_id=artifact.id))
    if changed:
        reinstall_version(s, version.id)
    s.flush()
    fanout.push_artifact_devices(s, rt, sorted({artifact.id, old_artifact}))
    return profile


def reinstall_version(s: Session, version_id: str) -> None:
    """A new source under the same version: the devices that have it get it again (same
    identifier: it replaces). Commands not handed out yet, or deferred with NotNow, are withdrawn (Canceled)
    so that the new one is the only one queued; one already in flight installs the old source."""
    queued = list(s.scalars(update(DeviceCommand).where(
        DeviceCommand.artifact_version == version_id,
        or_(DeviceCommand.status == "NotNow", and_(DeviceCommand.status.is_(None), DeviceCommand.time.is_(None))))
        .values(status="Canceled").returning(DeviceCommand.uuid)))
    s.execute(update(DeviceArtifact).where(
        DeviceArtifact.artifact_version_id == version_id,
        or_(DeviceArtifact.status != "pending", DeviceArtifact.command_uuid.in_(queued) if queued else false()))
        .values(status="pending", command_uuid=None))


def delete_profile(s: Session, rt, version_id: str) -> None:
    profile = get_profile(s, version_id)
    version = profile.artifact_version
    used = s.scalar(select(or_(
        exists().where(DeviceArtifact.artifact_version_id == version.id, DeviceArtifact.status != "removed"),
        exists().where(DeviceCommand.artifact_version == version.id, DeviceCommand.is_pending))))
    if used:
        raise _invalid(["This profile cannot be deleted"])
    artifact_id = version.artifact_id
    s.delete(profile)
    s.delete(version)
    s.flush()
    fanout.push_artifact_devices(s, rt, [artifact_id])
