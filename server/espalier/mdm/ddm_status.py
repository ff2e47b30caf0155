"""DDM status reports: what a device says of each declaration, and the artifact rows it moves.

https://developer.apple.com/documentation/devicemanagement/status-reports
``StatusItems.management.declarations.{activations,configurations,assets,management}`` lists
``{identifier, active, valid, server-token, reasons}``. Each entry is kept per device and
identifier (``FullReport: true`` replaces the device's rows, a partial report updates the
ones it names) with bulk statements, so a report of 10,000 declarations is a handful of
statements; entries beyond ``MAX_DECLARATIONS`` are refused (400). The report then moves the
``DeviceArtifact`` row of each declaration of the device's set that the device reports with
the set's ServerToken: valid and active → installed, invalid → failed (its reasons as
``error_chain``); a declaration artifact no longer in the set → removed.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, or_, select, update

from espalier.models import Artifact, DeclarativeReport, DeviceArtifact, DeviceDeclaration, EnrolledDevice
from espalier.models.blueprints import DECLARATION_KINDS

from . import ddm, legacy_profiles
from .errors import ParseError

MAX_DECLARATIONS = 20_000
MAX_REASONS = 20
MAX_ERRORS = 100
_PLURALS = (("activations", "activation"), ("configurations", "configuration"), ("assets", "asset"),
            ("management", "management"))
_VALID = ("valid", "invalid", "unknown")
_T = DeviceDeclaration.__table__
_CHUNK = 1000


def record(ctx, device: EnrolledDevice, data: dict[str, Any] | None) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("StatusItems"), dict):
        raise ParseError("a status report needs a StatusItems object")
    items = data["StatusItems"]
    full = data.get("FullReport") is True
    reported = _declarations(items)
    _keep_report(ctx, device, items, data.get("Errors"), full)
    if reported is not None:
        _store(ctx, device, reported, full)
        _move_rows(ctx, device, reported)
    for listener in ddm.STATUS_LISTENERS:
        listener(ctx, device, items)


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _reasons(value: Any) -> list[dict] | None:
    if not isinstance(value, list):
        return None
    out = []
    for reason in value[:MAX_REASONS]:
        if isinstance(reason, dict):
            kept = {k: _text(reason.get(k), 1024) for k in ("Code", "Description") if _text(reason.get(k), 1024)}
            if isinstance(reason.get("Details"), dict):
                kept["Details"] = {str(k)[:128]: str(v)[:1024] for k, v in list(reason["Details"].items())[:20]}
            out.append(kept)
    return out or None


def _declarations(items: dict) -> dict[str, dict] | None:
    """identifier -> what the report says of it; None when the report names no declarations."""
    management = items.get("management")
    declarations = management.get("declarations") if isinstance(management, dict) else None
    if declarations is None:
        return None
    if not isinstance(declarations, dict):
        raise ParseError("management.declarations must be an object")
    out: dict[str, dict] = {}
    seen = 0
    for plural, kind in _PLURALS:
        entries = declarations.get(plural) or []
        if not isinstance(entries, list):
            raise ParseError(f"management.declarations.{plural} must be an array")
        seen += len(entries)
        if seen > MAX_DECLARATIONS:
            raise ParseError(f"more than {MAX_DECLARATIONS} declarations in one status report")
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            identifier, token = entry.get("identifier"), entry.get("server-token")
            if not isinstance(identifier, str) or not identifier or ddm.octets(identifier) > ddm.MAX_OCTETS:
                continue
            out[identifier] = {
                "kind": kind,
                "server_token": token if isinstance(token, str) and ddm.octets(token) <= ddm.MAX_OCTETS else "",
                "valid": entry.get("valid") if entry.get("valid") in _VALID else "unknown",
                "active": entry.get("active") is True,
                "reasons": _reasons(entry.get("reasons")),
            }
    return out


def _merge(old: Any, new: Any) -> Any:
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    merged = dict(old)
    for key, value in new.items():
        merged[key] = _merge(old.get(key), value)
    return merged


def _keep_report(ctx, device: EnrolledDevice, items: dict, errors: Any, full: bool) -> None:
    report = ctx.s.get(DeclarativeReport, device.id)
    if report is None:
        report = DeclarativeReport(enrolled_device_id=device.id, status_items={})
        ctx.s.add(report)
    report.status_items = items if full else _merge(report.status_items or {}, items)
    report.errors = errors[:MAX_ERRORS] if isinstance(errors, list) else None


def _store(ctx, device: EnrolledDevice, reported: dict[str, dict], full: bool) -> None:
    s = ctx.s
    existing = {r.identifier: r for r in s.execute(
        select(_T.c.id, _T.c.identifier, _T.c.kind, _T.c.server_token, _T.c.valid, _T.c.active, _T.c.reasons)
        .where(_T.c.enrolled_device_id == device.id)).all()}
    fresh, changed = [], []
    for identifier, entry in reported.items():
        row = existing.get(identifier)
        if row is None:
            fresh.append({"enrolled_device_id": device.id, "identifier": identifier, **entry})
        elif any(getattr(row, k) != v for k, v in entry.items()):
            changed.append({"b_id": row.id, **{f"b_{k}": v for k, v in entry.items()}})
    if full:
        gone = [row.id for identifier, row in existing.items() if identifier not in reported]
        for start in range(0, len(gone), _CHUNK):
            s.execute(delete(_T).where(_T.c.id.in_(gone[start:start + _CHUNK])))
    if changed:
        s.execute(update(_T).where(_T.c.id == bindparam("b_id")).values(
            kind=bindparam("b_kind"), server_token=bindparam("b_server_token"), valid=bindparam("b_valid"),
            active=bindparam("b_active"), reasons=bindparam("b_reasons")), changed)
    if fresh:
        s.execute(insert(_T), fresh)


def _move_rows(ctx, device: EnrolledDevice, reported: dict[str, dict]) -> None:
    """Rows of the declarations the report is about move to installed or failed; rows that left
    the set become removed. Profiles count too when DDM delivers them (legacy declarations): a
    row DDM moved names no command, and one that leaves the set is removed (convergence installs
    it by InstallProfile again if it is still wanted: the device is woken for that)."""
    versions = ddm.declaration_set(ctx, device).versions()
    legacy = legacy_profiles.applies(ctx.blueprint(device.blueprint_id), device)
    profiles = Artifact.type == "Profile"
    owned = or_(Artifact.type.in_(list(DECLARATION_KINDS)), and_(profiles, DeviceArtifact.command_uuid.is_(None)))
    found = ctx.s.execute(select(DeviceArtifact, Artifact.type).join(
        Artifact, Artifact.id == DeviceArtifact.artifact_id).where(
        DeviceArtifact.enrolled_device_id == device.id, or_(owned, profiles) if legacy else owned)).all()
    rows = [r.DeviceArtifact for r in found]
    kind_of_row = {r.DeviceArtifact.id: r.type for r in found}
    by_version = {r.artifact_version_id: r for r in rows}
    for version_id, item in versions.items():
        entry = reported.get(item.identifier)
        if entry is None or entry["server_token"] != item.server_token:
            continue  # not reported, or about an older content
        row = by_version.get(version_id)
        if row is None:
            row = DeviceArtifact(enrolled_device_id=device.id, artifact_id=item.artifact_id,
                                 artifact_version_id=version_id, status="pending", operation="Installation")
            ctx.s.add(row)
        if entry["valid"] == "invalid":
            status, chain = "failed", entry["reasons"] or [{"Code": "Invalid"}]
        elif entry["valid"] == "valid" and entry["active"]:
            status, chain = "installed", None
        else:
            continue
        if (row.status, row.error_chain, row.operation, row.command_uuid) != (status, chain, "Installation", None):
            row.status, row.error_chain, row.operation, row.command_uuid = status, chain, "Installation", None
    for row in rows:
        if row.artifact_version_id in versions or row.status == "removed":
            continue
        if kind_of_row.get(row.id) == "Profile":
            if row.command_uuid is not None:
                continue  # installed by InstallProfile: convergence's
            ctx.pushes.add(device.id)  # a profile DDM no longer delivers: convergence may install it
        row.status, row.operation, row.error_chain = "removed", "Removal", None
