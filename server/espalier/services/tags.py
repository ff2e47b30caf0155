"""Inventory tags and machine tagging (Zentral's /api/inventory/tags/ and machines/tags/)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from espalier.models import ArtifactVersion, EnrolledDevice, BlueprintArtifact, MachineTag, Tag, Taxonomy
from espalier.models.tags import DEFAULT_COLOR
from espalier.services.errors import ServiceError
from espalier.services.rows import by_name, get_or_404


def get(s: Session, tag_id: int) -> Tag:
    return get_or_404(s, Tag, tag_id)


def list_all(s: Session, name: str | None = None) -> list[Tag]:
    return by_name(s, Tag, name, Tag.id)


def save(s: Session, data: dict[str, Any], tag_id: int | None = None) -> Tag:
    tag = get(s, tag_id) if tag_id is not None else Tag(color=DEFAULT_COLOR)
    errors = {}
    with s.no_autoflush:
        taxonomy = data.get("taxonomy")
        if taxonomy is not None and s.get(Taxonomy, taxonomy) is None:
            errors["taxonomy"] = [f'Invalid pk "{taxonomy}" - object does not exist.']
        if s.scalar(select(Tag.id).where(Tag.name == data["name"], Tag.id != (tag.id or 0))):
            errors["name"] = ["tag with this name already exists."]
    if errors:
        raise ServiceError("invalid tag", errors)
    for field in ("taxonomy", "meta_business_unit", "name", "color"):
        if field in data and (data[field] is not None or field != "color"):
            setattr(tag, "taxonomy_id" if field == "taxonomy" else field, data[field])
    tag.color = (tag.color or DEFAULT_COLOR).lower()
    s.add(tag)
    s.flush()
    return tag


def delete_tag(s: Session, tag_id: int) -> list[int]:
    """Delete a tag and drop it from every scope that names it; the serial numbers it was on."""
    tag = get(s, tag_id)
    serials = list(s.scalars(select(MachineTag.serial_number).where(MachineTag.tag_id == tag.id)))
    for model in (BlueprintArtifact, ArtifactVersion):
        for row in s.scalars(select(model)):
            if tag.id in (row.excluded_tags or []) or any(ts["tag"] == tag.id for ts in row.tag_shards or []):
                row.excluded_tags = [t for t in row.excluded_tags if t != tag.id]
                row.tag_shards = [ts for ts in row.tag_shards if ts["tag"] != tag.id]
    s.execute(delete(MachineTag).where(MachineTag.tag_id == tag.id))
    s.delete(tag)
    s.flush()
    return serials


def tags_of(s: Session, serial_number: str | None) -> set[int]:
    if not serial_number:
        return set()
    return set(s.scalars(select(MachineTag.tag_id).where(MachineTag.serial_number == serial_number)))


def machine_tags(s: Session, serial_number: str) -> list[Tag]:
    return list(s.scalars(select(Tag).join(MachineTag, MachineTag.tag_id == Tag.id)
                          .where(MachineTag.serial_number == serial_number).order_by(Tag.name, Tag.id)))


def _taxonomy(s: Session, name: str | None) -> Taxonomy | None:
    if not name:
        return None
    taxonomy = s.scalar(select(Taxonomy).where(Taxonomy.name == name))
    if taxonomy is None:
        taxonomy = Taxonomy(name=name)
        s.add(taxonomy)
        s.flush()
    return taxonomy


def _tags(s: Session, taxonomy: Taxonomy | None, names: list[str]) -> list[Tag]:
    found = []
    for name in dict.fromkeys(names):
        tag = s.scalar(select(Tag).where(Tag.name == name))
        if tag is None:
            tag = Tag(name=name, taxonomy_id=taxonomy.id if taxonomy else None, color=DEFAULT_COLOR)
            s.add(tag)
            s.flush()
        found.append(tag)
    return found


def _check(operation: dict[str, Any]) -> dict[str, list[str]]:
    kind, taxonomy, names = operation["kind"], operation.get("taxonomy"), operation["names"]
    if kind == "SET" and not taxonomy:
        return {"taxonomy": ["This field is required for SET operations"]}
    if kind == "REMOVE" and taxonomy:
        return {"taxonomy": ["This field may not be set for REMOVE operations"]}
    if kind in ("ADD", "REMOVE") and not names:
        return {"names": [f"This list may not be empty for {kind} operations"]}
    return {}


def update_machine_tags(s: Session, serial_numbers: list[str], operations: list[dict[str, Any]]) -> dict:
    """ADD tags (made when missing), REMOVE tags by name, SET a taxonomy's tags to exactly ``names``."""
    errors = {str(i): e for i, op in enumerate(operations) if (e := _check(op))}
    if errors:
        raise ServiceError("invalid operations", {"operations": errors})
    serials = sorted(set(serial_numbers))
    added = removed = 0
    for op in operations:
        taxonomy = _taxonomy(s, op.get("taxonomy"))
        if op["kind"] == "REMOVE":
            ids = list(s.scalars(select(Tag.id).where(Tag.name.in_(op["names"]))))
            removed += _remove(s, serials, ids)
            continue
        tags = _tags(s, taxonomy, op["names"])
        if op["kind"] == "SET":
            keep = [t.id for t in tags]
            others = list(s.scalars(select(Tag.id).where(Tag.taxonomy_id == taxonomy.id, Tag.id.not_in(keep))))
            removed += _remove(s, serials, others)
        if tags:
            ids = [t.id for t in tags]
            have = set(s.execute(select(MachineTag.serial_number, MachineTag.tag_id).where(
                MachineTag.serial_number.in_(serials), MachineTag.tag_id.in_(ids))).all())
            missing = [MachineTag(serial_number=sn, tag_id=i) for sn in serials for i in ids if (sn, i) not in have]
            s.add_all(missing)
            s.flush()
            added += len(missing)
    found = s.scalar(select(func.count(func.distinct(EnrolledDevice.serial_number))).where(
        EnrolledDevice.serial_number.in_(serials)))
    return {"machines": {"found": found}, "tags": {"added": added, "removed": removed}}


def _remove(s: Session, serials: list[str], tag_ids: list[int]) -> int:
    if not tag_ids:
        return 0
    return s.execute(delete(MachineTag).where(MachineTag.serial_number.in_(serials),
                                              MachineTag.tag_id.in_(tag_ids))).rowcount


__all__ = ["delete_tag", "get", "list_all", "save", "tags_of", "update_machine_tags"]
