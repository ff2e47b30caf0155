"""OS update enforcements (Zentral's /api/mdm/software_update_enforcements/), the blueprints
that list them, and the devices still below an enforcement's target.

Validation is Zentral's serializer's: ``os_version`` or ``max_os_version`` (not both); with
``max_os_version`` the one-time fields must be empty (``delay_days`` and ``local_time``
default to 14 and 09:30), with ``os_version`` a ``local_datetime`` is required and the
"latest" fields must be empty; the fields of the other mode are cleared.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from espalier.mdm import softwareupdate
from espalier.models import (BlueprintSoftwareUpdateEnforcement, DeviceSoftwareUpdate, EnrolledDevice, MachineTag,
                             SoftwareUpdateEnforcement, SoftwareUpdateEnforcementTag, Tag)
from espalier.services import fanout
from espalier.services.errors import ServiceError
from espalier.services.rows import by_name, get_or_404

LATEST_FIELDS = ("max_os_version", "delay_days", "local_time")
ONE_TIME_FIELDS = ("os_version", "build_version", "local_datetime")
_NULLABLE = ("delay_days", "local_time", "local_datetime")
IN_USE = "This software update enforcement cannot be deleted"


def get(s: Session, enforcement_id: int) -> SoftwareUpdateEnforcement:
    return get_or_404(s, SoftwareUpdateEnforcement, enforcement_id)


def list_all(s: Session, name: str | None = None) -> list[SoftwareUpdateEnforcement]:
    return by_name(s, SoftwareUpdateEnforcement, name, SoftwareUpdateEnforcement.id)


def tag_ids(s: Session, enforcement_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    if enforcement_ids:
        for enforcement_id, tag_id in s.execute(
                select(SoftwareUpdateEnforcementTag.enforcement_id, SoftwareUpdateEnforcementTag.tag_id)
                .where(SoftwareUpdateEnforcementTag.enforcement_id.in_(enforcement_ids))
                .order_by(SoftwareUpdateEnforcementTag.tag_id)):
            out[enforcement_id].append(tag_id)
    return out


def _missing(s: Session, model, ids: list[int]) -> list[str]:
    found = set(s.scalars(select(model.id).where(model.id.in_(ids)))) if ids else set()
    return [f'Invalid pk "{i}" - object does not exist.' for i in ids if i not in found][:1]


def validate(data: dict[str, Any]) -> dict[str, Any]:
    """Zentral's cross-field rules; ``data`` with the other mode's fields cleared."""
    errors: dict[str, list[str]] = {}
    for field in ("max_os_version", "os_version"):
        if data.get(field) and softwareupdate.os_version_tuple(data[field]) is None:
            errors[field] = ["Not a valid OS version"]
    if not data.get("platforms"):
        errors["platforms"] = ["This list may not be empty."]
    if errors:
        raise ServiceError("invalid software update enforcement", errors)
    max_os_version, os_version = data.get("max_os_version"), data.get("os_version")
    if max_os_version and os_version:
        raise ServiceError("invalid", {"non_field_errors": ["os_version and max_os_version cannot be both set"]})
    if max_os_version:
        mode, required, others = "max_os_version", ("max_os_version",), ONE_TIME_FIELDS
    elif os_version:
        mode, required, others = "os_version", ("os_version", "local_datetime"), LATEST_FIELDS
    else:
        raise ServiceError("invalid", {"non_field_errors": ["os_version or max_os_version are required"]})
    for field in required:
        if data.get(field) is None or data.get(field) == "":
            errors[field] = [f"This field is required if {mode} is used"]
    for field in others:
        if data.get(field):
            errors[field] = [f"This field cannot be set if {mode} is used"]
        else:
            data[field] = None if field in _NULLABLE else ""
    if errors:
        raise ServiceError("invalid software update enforcement", errors)
    return data


def save(s: Session, data: dict[str, Any], enforcement_id: int | None = None) -> SoftwareUpdateEnforcement:
    enforcement = get(s, enforcement_id) if enforcement_id is not None else SoftwareUpdateEnforcement()
    tags = data.pop("tags", None)
    with s.no_autoflush:
        errors = {}
        if s.scalar(select(SoftwareUpdateEnforcement.id).where(SoftwareUpdateEnforcement.name == data["name"],
                                                               SoftwareUpdateEnforcement.id != (enforcement.id or 0))):
            errors["name"] = ["software update enforcement with this name already exists."]
        if tags and (missing := _missing(s, Tag, tags)):
            errors["tags"] = missing
        if errors:
            raise ServiceError("invalid software update enforcement", errors)
    data = validate(data)
    for field, value in data.items():
        if value is not None or field in _NULLABLE:
            setattr(enforcement, field, value)
    if enforcement.max_os_version:
        if enforcement.delay_days is None:
            enforcement.delay_days = softwareupdate.DEFAULT_DELAY_DAYS
        if enforcement.local_time is None:
            enforcement.local_time = softwareupdate.DEFAULT_LOCAL_TIME
    for field in ("details_url", "max_os_version", "os_version", "build_version"):
        if getattr(enforcement, field) is None:
            setattr(enforcement, field, "")
    s.add(enforcement)
    s.flush()
    if tags is not None:
        s.execute(delete(SoftwareUpdateEnforcementTag).where(
            SoftwareUpdateEnforcementTag.enforcement_id == enforcement.id))
        s.add_all(SoftwareUpdateEnforcementTag(enforcement_id=enforcement.id, tag_id=t) for t in tags)
        s.flush()
    return enforcement


def update(s: Session, rt, data: dict[str, Any], enforcement_id: int) -> SoftwareUpdateEnforcement:
    """Save an existing enforcement and push the devices of the blueprints listing it: their
    declaration (a new target, date or details URL) is synced at their next connect."""
    enforcement = save(s, data, enforcement_id)
    fanout.push_blueprint_devices(s, rt, blueprints_of(s, enforcement_id))
    return enforcement


def delete_one(s: Session, enforcement_id: int) -> None:
    """Refused while a blueprint lists it (Zentral: ``can_be_deleted``)."""
    enforcement = get(s, enforcement_id)
    if s.scalar(select(exists().where(BlueprintSoftwareUpdateEnforcement.enforcement_id == enforcement.id))):
        raise ServiceError("enforcement in use", [IN_USE])
    s.delete(enforcement)
    s.flush()


# -- blueprints ------------------------------------------------------------------------------

def of_blueprints(s: Session, blueprint_ids: list[int]) -> dict[int, list[int]]:
    """Each blueprint's enforcement ids."""
    out: dict[int, list[int]] = defaultdict(list)
    if blueprint_ids:
        for blueprint_id, enforcement_id in s.execute(
                select(BlueprintSoftwareUpdateEnforcement.blueprint_id, BlueprintSoftwareUpdateEnforcement.enforcement_id)
                .where(BlueprintSoftwareUpdateEnforcement.blueprint_id.in_(blueprint_ids))
                .order_by(BlueprintSoftwareUpdateEnforcement.enforcement_id)):
            out[blueprint_id].append(enforcement_id)
    return out


def check_ids(s: Session, enforcement_ids: list[int]) -> None:
    if missing := _missing(s, SoftwareUpdateEnforcement, enforcement_ids):
        raise ServiceError("invalid blueprint", {"software_update_enforcements": missing})


def set_for_blueprint(s: Session, blueprint_id: int, enforcement_ids: list[int]) -> bool:
    """Whether the blueprint's list changed."""
    if sorted(set(enforcement_ids)) == of_blueprints(s, [blueprint_id]).get(blueprint_id, []):
        return False
    s.execute(delete(BlueprintSoftwareUpdateEnforcement).where(
        BlueprintSoftwareUpdateEnforcement.blueprint_id == blueprint_id))
    s.add_all(BlueprintSoftwareUpdateEnforcement(blueprint_id=blueprint_id, enforcement_id=e)
              for e in sorted(set(enforcement_ids)))
    s.flush()
    return True


def blueprints_of(s: Session, enforcement_id: int) -> list[int]:
    """The blueprints listing an enforcement: their devices are pushed when it changes."""
    return list(s.scalars(select(BlueprintSoftwareUpdateEnforcement.blueprint_id).where(
        BlueprintSoftwareUpdateEnforcement.enforcement_id == enforcement_id)))


# -- devices below the target ----------------------------------------------------------------

def devices_below_target(s: Session, enforcement_id: int, now) -> list[dict]:
    """The devices this enforcement applies to (blueprint, platform, Zentral's tag rule) whose
    reported OS version is below its target for them, with what they reported of their update."""
    enforcement = get(s, enforcement_id)
    blueprint_ids = list(s.scalars(select(BlueprintSoftwareUpdateEnforcement.blueprint_id).where(
        BlueprintSoftwareUpdateEnforcement.enforcement_id == enforcement.id)))
    platforms = list(enforcement.platforms or ())
    if not blueprint_ids or not platforms:
        return []
    rows = s.execute(
        select(EnrolledDevice, DeviceSoftwareUpdate)
        .outerjoin(DeviceSoftwareUpdate, DeviceSoftwareUpdate.enrolled_device_id == EnrolledDevice.id)
        .where(EnrolledDevice.blueprint_id.in_(blueprint_ids), EnrolledDevice.platform.in_(platforms),
               EnrolledDevice.checkout_at.is_(None))
        .order_by(EnrolledDevice.id)).all()
    if not rows:
        return []
    # the blueprints' enforcements with their tags, and the devices' tags: the choice per device
    by_blueprint = of_blueprints(s, blueprint_ids)
    all_ids = sorted({e for ids in by_blueprint.values() for e in ids})
    enforcements = {e.id: e for e in s.scalars(select(SoftwareUpdateEnforcement)
                                              .where(SoftwareUpdateEnforcement.id.in_(all_ids)))}
    tags = tag_ids(s, all_ids)
    serials = sorted({d.serial_number for d, _ in rows if d.serial_number})
    device_tags: dict[str, set[int]] = defaultdict(set)
    for start in range(0, len(serials), 1000):
        for serial, tag_id in s.execute(select(MachineTag.serial_number, MachineTag.tag_id)
                                        .where(MachineTag.serial_number.in_(serials[start:start + 1000]))):
            device_tags[serial].add(tag_id)
    targets: dict[tuple, softwareupdate.Target | None] = {}
    out = []
    for device, state in rows:
        candidates = [(enforcements[e], set(tags.get(e, ()))) for e in by_blueprint[device.blueprint_id]]
        chosen = softwareupdate.choose(candidates, device.platform, device_tags.get(device.serial_number, set()),
                                       device.serial_number)
        if chosen is None or chosen.id != enforcement.id:
            continue
        catalogue_id = state.software_update_device_id if state else None
        key = (device.platform, catalogue_id, device.build_version) if enforcement.max_os_version else ()
        if key not in targets:
            targets[key] = softwareupdate.target(s, enforcement, platform=device.platform, catalogue_id=catalogue_id,
                                                 build=device.build_version, now=now)
        goal = targets[key]
        version = softwareupdate.current_version(device.os_version, state.os_version if state else None,
                                                 state.os_extra if state else None)
        if goal is None or not softwareupdate.is_below(version, goal):
            continue
        out.append({
            "id": device.id, "serial_number": device.serial_number, "udid": device.udid, "platform": device.platform,
            "os_version": device.os_version, "build_version": device.build_version,
            "target_os_version": goal.os_version, "target_build_version": goal.build_version,
            "target_local_datetime": goal.payload()["TargetLocalDateTime"],
            "install_state": state.install_state if state else None,
            "pending_os_version": state.pending_os_version if state else None,
            "pending_build_version": state.pending_build_version if state else None,
            "failure_reason": state.failure_reason if state else None,
            "install_reason": state.install_reason if state else None,
            "reported_at": state.reported_at.isoformat() if state and state.reported_at else None,
        })
    return out
