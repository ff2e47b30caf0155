"""FileVault and recovery password configurations (Zentral's /api/mdm/filevault_configs/ and
/api/mdm/recovery_password_configs/): validation as Zentral's serializers, delete refused
while a blueprint uses one, the blueprints' devices pushed when a configuration changes."""
from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from espalier.models import Blueprint, FileVaultConfig, RecoveryPasswordConfig
from espalier.services import fanout
from espalier.services.errors import ServiceError
from espalier.services.rows import by_name, get_or_404

# field -> the model's default (what an absent field is at creation; on update it keeps its value)
FILEVAULT_FIELDS = {"name": None, "escrow_location_display_name": None, "at_login_only": False,
                    "bypass_attempts": -1, "show_recovery_key": False, "destroy_key_on_standby": False,
                    "prk_rotation_interval_days": 0}
RECOVERY_FIELDS = {"name": None, "dynamic_password": True, "rotation_interval_days": 0,
                   "rotate_firmware_password": False}


def _merged(row, data: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    new = row.id is None
    return {field: data[field] if data.get(field) is not None else (default if new else getattr(row, field))
            for field, default in fields.items()}


def get_filevault(s: Session, config_id: int) -> FileVaultConfig:
    return get_or_404(s, FileVaultConfig, config_id)


def list_filevault(s: Session, name: str | None = None) -> list[FileVaultConfig]:
    return by_name(s, FileVaultConfig, name, FileVaultConfig.id)


def save_filevault(s: Session, rt, data: dict[str, Any], config_id: int | None = None) -> FileVaultConfig:
    config = get_filevault(s, config_id) if config_id is not None else FileVaultConfig()
    data = _merged(config, data, FILEVAULT_FIELDS)
    bypass_attempts = data["bypass_attempts"]
    if data["at_login_only"]:
        if bypass_attempts < 0:
            raise ServiceError("invalid", {"bypass_attempts": ["Must be >= 0 when at_login_only is True"]})
    elif bypass_attempts > -1:
        raise ServiceError("invalid", {"bypass_attempts": ["Must be -1 when at_login_only is False"]})
    _unique_name(s, FileVaultConfig, data["name"], config.id, "file vault config")
    for field in FILEVAULT_FIELDS:
        setattr(config, field, data[field])
    s.add(config)
    s.flush()
    _push(s, rt, Blueprint.filevault_config_id, config.id)
    return config


def delete_filevault(s: Session, config_id: int) -> None:
    config = get_filevault(s, config_id)
    if s.scalar(select(exists().where(Blueprint.filevault_config_id == config.id))):
        raise ServiceError("in use", ["This FileVault configuration cannot be deleted"])
    s.delete(config)


def get_recovery(s: Session, config_id: int) -> RecoveryPasswordConfig:
    return get_or_404(s, RecoveryPasswordConfig, config_id)


def list_recovery(s: Session, name: str | None = None) -> list[RecoveryPasswordConfig]:
    return by_name(s, RecoveryPasswordConfig, name, RecoveryPasswordConfig.id)


def save_recovery(s: Session, rt, data: dict[str, Any], config_id: int | None = None) -> RecoveryPasswordConfig:
    """``static_password`` is sealed in the row, never logged; null (or absent) clears it, as Zentral's update."""
    config = get_recovery(s, config_id) if config_id is not None else RecoveryPasswordConfig()
    static = data.get("static_password")
    data = _merged(config, data, RECOVERY_FIELDS)
    dynamic = data["dynamic_password"]
    rotation, rotate_firmware = data["rotation_interval_days"], data["rotate_firmware_password"]
    errors: dict[str, list[str]] = {}
    if dynamic:
        if static:
            errors["static_password"] = ["Cannot be set when dynamic_password is true"]
    else:
        if not static:
            errors["static_password"] = ["Required when dynamic_password is false"]
        if rotation:
            errors["rotation_interval_days"] = ["Cannot be set with a static password"]
        if rotate_firmware:
            errors["rotate_firmware_password"] = ["Cannot be set with a static password"]
    if rotate_firmware and not rotation:
        errors["rotate_firmware_password"] = ["Cannot be set without a rotation interval"]
    if errors:
        raise ServiceError("invalid", errors)
    _unique_name(s, RecoveryPasswordConfig, data["name"], config.id, "recovery password config")
    for field in RECOVERY_FIELDS:
        setattr(config, field, data[field])
    s.add(config)
    s.flush()  # the row id binds the sealed password
    rt.secrets.seal(config, "static_password", static or None)
    s.flush()
    _push(s, rt, Blueprint.recovery_password_config_id, config.id)
    return config


def static_password(secrets, config: RecoveryPasswordConfig) -> str | None:
    return secrets.open_str(config, "static_password") if config.static_password else None


def delete_recovery(s: Session, config_id: int) -> None:
    config = get_recovery(s, config_id)
    if s.scalar(select(exists().where(Blueprint.recovery_password_config_id == config.id))):
        raise ServiceError("in use", ["This recovery password configuration cannot be deleted"])
    s.delete(config)


def _unique_name(s: Session, model: type, name: str, current_id: int | None, label: str) -> None:
    with s.no_autoflush:
        if s.scalar(select(model.id).where(model.name == name, model.id != (current_id or 0))):
            raise ServiceError("duplicate name", {"name": [f"{label} with this name already exists."]})


def _push(s: Session, rt, column, config_id: int) -> None:
    """A changed configuration: its blueprints' devices converge now, not at their next contact."""
    blueprint_ids = list(s.scalars(select(Blueprint.id).where(column == config_id)))
    if blueprint_ids:
        fanout.push_blueprint_devices(s, rt, blueprint_ids)
