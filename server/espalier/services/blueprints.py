"""Blueprints and the artifacts they list (Zentral's /api/mdm/blueprints/ and blueprint_artifacts/)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from espalier.models import (Artifact, Blueprint, BlueprintArtifact, EnrolledDevice, FileVaultConfig, OtaEnrollment,
                             RecoveryPasswordConfig)
from espalier.services import declarations, fanout, software_update_enforcements
from espalier.services.artifacts import FILTER_FIELDS, validate_filtered
from espalier.services.errors import ServiceError
from espalier.services.rows import by_name, get_or_404


def get(s: Session, blueprint_id: int) -> Blueprint:
    return get_or_404(s, Blueprint, blueprint_id)


def list_all(s: Session, name: str | None = None) -> list[Blueprint]:
    return by_name(s, Blueprint, name, Blueprint.name, Blueprint.created_at)


# The configuration a blueprint points at (null: none; absent from an update: unchanged).
CONFIGS = {"filevault_config": FileVaultConfig, "recovery_password_config": RecoveryPasswordConfig}


def save(s: Session, rt, data: dict[str, Any], blueprint_id: int | None = None) -> Blueprint:
    blueprint = get(s, blueprint_id) if blueprint_id is not None else Blueprint()
    data = dict(data)
    enforcement_ids = data.pop("software_update_enforcements", None)
    errors = {}
    with s.no_autoflush:
        if s.scalar(select(Blueprint.id).where(Blueprint.name == data["name"], Blueprint.id != (blueprint.id or 0))):
            errors["name"] = ["blueprint with this name already exists."]
        for field, model in CONFIGS.items():
            if data.get(field) is not None and s.get(model, data[field]) is None:
                errors[field] = [f'Invalid pk "{data[field]}" - object does not exist.']
    if errors:
        raise ServiceError("invalid blueprint", errors)
    if enforcement_ids:
        software_update_enforcements.check_ids(s, enforcement_ids)
    before = (blueprint.filevault_config_id, blueprint.recovery_password_config_id)
    legacy_before = blueprint.legacy_profiles_via_ddm
    for field, value in data.items():
        if field in CONFIGS:
            setattr(blueprint, f"{field}_id", value)
        elif value is not None:
            setattr(blueprint, field, value)
    s.add(blueprint)
    s.flush()
    enforcements_changed = False
    if enforcement_ids is not None:
        enforcements_changed = software_update_enforcements.set_for_blueprint(s, blueprint.id, enforcement_ids)
    declarations.recount(s, blueprint_ids=[blueprint.id])  # its DDM set: enforcements, profiles by DDM
    configs_changed = before != (blueprint.filevault_config_id, blueprint.recovery_password_config_id)
    if configs_changed:
        s.expire(blueprint, ["filevault_config", "recovery_password_config"])
    if blueprint_id is not None and (configs_changed or enforcements_changed
                                     or legacy_before != blueprint.legacy_profiles_via_ddm):
        fanout.push_blueprint_devices(s, rt, [blueprint.id])  # FileVault, recovery lock, DDM: converge now
    return blueprint


def enforcement_ids(s: Session, blueprints: list[Blueprint]) -> dict[int, list[int]]:
    """Each blueprint's ``software_update_enforcements`` (one query for a page)."""
    return software_update_enforcements.of_blueprints(s, [b.id for b in blueprints])


def delete(s: Session, blueprint_id: int) -> None:
    """Refused while an enrollment or an enrolled device uses it (Zentral: can_be_deleted)."""
    blueprint = get(s, blueprint_id)
    if s.scalar(select(or_(exists().where(OtaEnrollment.blueprint_id == blueprint.id),
                           exists().where(EnrolledDevice.blueprint_id == blueprint.id)))):
        raise ServiceError("blueprint in use", ["This blueprint cannot be deleted"])
    s.delete(blueprint)


# -- blueprint artifacts ---------------------------------------------------------------------

def get_item(s: Session, item_id: int) -> BlueprintArtifact:
    return get_or_404(s, BlueprintArtifact, item_id)


def list_items(s: Session) -> list[BlueprintArtifact]:
    return list(s.scalars(select(BlueprintArtifact).order_by(BlueprintArtifact.id)))


def save_item(s: Session, rt, data: dict[str, Any], item_id: int | None = None) -> BlueprintArtifact:
    item = get_item(s, item_id) if item_id is not None else BlueprintArtifact()
    errors = {}
    with s.no_autoflush:
        if s.get(Blueprint, data["blueprint"]) is None:
            errors["blueprint"] = [f'Invalid pk "{data["blueprint"]}" - object does not exist.']
        artifact = s.get(Artifact, data["artifact"])
        if artifact is None:
            errors["artifact"] = [f'Invalid pk "{data["artifact"]}" - object does not exist.']
        if errors:
            raise ServiceError("invalid blueprint artifact", errors)
        validate_filtered(s, data, artifact)
        if s.scalar(select(BlueprintArtifact.id).where(
                BlueprintArtifact.blueprint_id == data["blueprint"], BlueprintArtifact.artifact_id == artifact.id,
                BlueprintArtifact.id != (item.id or 0))):
            raise ServiceError("duplicate", {"non_field_errors": [
                "The fields blueprint, artifact must make a unique set."]})
    previous = (item.blueprint_id, item.artifact_id)
    item.blueprint_id, item.artifact_id = data["blueprint"], artifact.id
    for field in FILTER_FIELDS:
        setattr(item, field, data[field])
    s.add(item)
    s.flush()
    declarations.recount(s, blueprint_ids=[item.blueprint_id, previous[0]])
    _push(s, rt, [item.blueprint_id, previous[0]], [item.artifact_id, previous[1]])
    return item


def delete_item(s: Session, rt, item_id: int) -> None:
    item = get_item(s, item_id)
    blueprint_id, artifact_id = item.blueprint_id, item.artifact_id
    s.delete(item)
    s.flush()
    declarations.recount(s, blueprint_ids=[blueprint_id])
    _push(s, rt, [blueprint_id], [artifact_id])


def _push(s: Session, rt, blueprint_ids, artifact_ids) -> None:
    fanout.push_blueprint_artifact_devices(s, rt, [b for b in blueprint_ids if b], [a for a in artifact_ids if a])
