"""Profiles delivered by DDM: a blueprint with ``legacy_profiles_via_ddm`` gives its DDM-capable
devices each in-scope profile as a ``com.apple.configuration.legacy`` declaration whose
``ProfileURL`` the device downloads, instead of InstallProfile commands.

The URL carries a token bound to the device (its id and the start of its current enrollment)
and the artifact version, keyed with the server's secret: it serves that profile to that
device only, while the version is in the device's declaration set, and to nobody once it
re-enrolls. The declaration's ServerToken follows the profile version and its content, never
the URL, so a rotated secret key does not make every device download its profiles again.
Facts: apple/device-management declarative/declarations/configurations/legacy.yaml.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from sqlalchemy import func, select

from espalier.models import (Artifact, Blueprint, BlueprintArtifact, EnrolledDevice, MachineTag,
                             Profile)

from . import convergence, scope  # convergence imports this module too: only used at call time
from .errors import NotFound
from .platforms import ddm_capable

TYPE = "com.apple.configuration.legacy"
PREFIX = "espalier.legacy."  # + the artifact id: 52 octets, within Apple's 64
PATH = "/public/mdm/legacy_profiles/"
_PURPOSE = "legacy-profile-url"

def applies(blueprint: Blueprint | None, device) -> bool:
    """Whether ``device``'s profiles go by DDM (then convergence sends none by InstallProfile)."""
    return (blueprint is not None and blueprint.legacy_profiles_via_ddm
            and ddm_capable(device.platform, device.os_version))


def declarations(ctx, device, blueprint: Blueprint) -> list[tuple]:
    """(artifact id, version, profile) of each in-scope profile: one legacy declaration each."""
    candidates = ctx.s.execute(convergence.PROFILE_CANDIDATES, {"blueprint_id": blueprint.id}).all()
    tags: set[int] = set()
    if device.serial_number and any(scope.has_tag_filters(c.BlueprintArtifact) or scope.has_tag_filters(c.ArtifactVersion)
                                    for c in candidates):
        tags = set(ctx.s.scalars(select(MachineTag.tag_id).where(MachineTag.serial_number == device.serial_number)))
    desired = scope.newest_in_scope(candidates, device, device.serial_number or device.udid, tags)
    return [(artifact_id, version, profile) for artifact_id, (_artifact, version, profile) in desired.items()]


def identifier(artifact_id: str) -> str:
    return PREFIX + artifact_id


def server_token(version_id: str, profile: Profile) -> str:
    return hashlib.sha256(f"{version_id}:{profile.source_sha256}".encode()).hexdigest()


def _enrollment_mark(device) -> str:
    return device.enrolled_at.isoformat() if device.enrolled_at else ""


def _mac(ctx, device, version_id: str) -> str:
    return ctx.secrets.fingerprint(f"{device.id}:{version_id}:{_enrollment_mark(device)}", _PURPOSE)[:40]


def profile_url(ctx, device, version_id: str) -> str:
    return f"{ctx.config.base_url.rstrip('/')}{PATH}{device.id}.{version_id}.{_mac(ctx, device, version_id)}/"


def profile_for(ctx, token: str, declared_versions) -> bytes:
    """The .mobileconfig a token names, for the device it was made for, while ``declared_versions
    (device) -> set of version ids`` still holds it; NotFound for anything else (one answer for
    a forged, stale or foreign token)."""
    parts = token.split(".")
    if len(token) > 160 or len(parts) != 3 or not parts[0].isdigit() or len(parts[1]) != 36:
        raise NotFound("unknown profile")
    device = ctx.s.get(EnrolledDevice, int(parts[0]))
    if device is None or device.is_blocked or device.checkout_at is not None \
            or not hmac.compare_digest(parts[2], _mac(ctx, device, parts[1])) \
            or parts[1] not in declared_versions(device):
        raise NotFound("unknown profile")
    profile = ctx.s.scalar(select(Profile).where(Profile.artifact_version_id == parts[1]))
    if profile is None:
        raise NotFound("unknown profile")
    return base64.b64decode(ctx.secrets.open_str(profile, "source") or "")


def profile_artifacts_by_blueprint(s, blueprint_ids: list[int]) -> dict[int, int]:
    """Profile artifacts of the blueprints that deliver them by DDM (the DDM module counts them
    in ``Blueprint.declaration_count``, so their devices sync)."""
    return dict(s.execute(select(BlueprintArtifact.blueprint_id, func.count()).join(
        Artifact, Artifact.id == BlueprintArtifact.artifact_id).join(
        Blueprint, Blueprint.id == BlueprintArtifact.blueprint_id).where(
        BlueprintArtifact.blueprint_id.in_(blueprint_ids), Artifact.type == "Profile", Artifact.channel == "Device",
        Blueprint.legacy_profiles_via_ddm.is_(True)).group_by(BlueprintArtifact.blueprint_id)).all())
