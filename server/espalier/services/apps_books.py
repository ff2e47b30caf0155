"""Apps and Books assets: what a sync stores, what a notification changes, licence events.

``apply_sync`` turns one consistent read of a location's assets and assignments (fetched
by ``tasks.apps_books``) into rows with set operations in bulk: assets upserted by (adam
id, pricing param), the location's counts, and its device assignments added and removed.
Notifications (``handle_notification``) move the same rows between syncs: an
ASSET_MANAGEMENT result adds or removes assignments and moves the counts, an ASSET_COUNT
delta moves the totals; what cannot be applied (an asset we do not know yet) queues a sync.
Licence events (``request_licences``) record what we asked Apple to associate or
disassociate; their notification or, failing that, polling ``status`` ends them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from espalier.models import (AppsBooksEvent, AppsBooksNotification, Asset, DeviceAssignment, LicenceRequest, Location,
                             LocationAsset, TaskResult, utcnow)
from espalier.services import licences
from espalier.services.errors import ServiceError

log = logging.getLogger(__name__)

CHUNK = 500  # ids and keys per IN (): well under SQLite's and PostgreSQL's parameter limits
PRODUCT_TYPES = ("App", "Book")
MAX_SERIAL = 64


# -- sync -------------------------------------------------------------------------------

@dataclass
class SyncCounts:
    assets: int = 0
    assets_created: int = 0
    assets_updated: int = 0
    location_assets_created: int = 0
    location_assets_updated: int = 0
    assignments: int = 0
    assignments_created: int = 0
    assignments_deleted: int = 0
    skipped: list = field(default_factory=list)  # items Apple sent that we could not read

    def as_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "skipped"}
        out["skipped"] = len(self.skipped)
        return out


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**31 else 0


def _asset_key(item: Any) -> tuple[str, str] | None:
    if not isinstance(item, dict):
        return None
    adam_id, pricing_param = item.get("adamId"), item.get("pricingParam")
    if isinstance(adam_id, int) and not isinstance(adam_id, bool):
        adam_id = str(adam_id)
    if not (isinstance(adam_id, str) and 0 < len(adam_id) <= 64 and isinstance(pricing_param, str)
            and 0 < len(pricing_param) <= 16):
        return None
    return adam_id, pricing_param


def _asset_values(item: dict) -> dict:
    product_type = item.get("productType")
    platforms = item.get("supportedPlatforms")
    return {"product_type": product_type if product_type in PRODUCT_TYPES else "App",
            "device_assignable": item.get("deviceAssignable") is not False,
            "revocable": item.get("revocable") is True,
            "supported_platforms": sorted(p for p in platforms if isinstance(p, str))[:16]
            if isinstance(platforms, list) else []}


def _counts(item: dict) -> dict:
    return {"assigned_count": _int(item.get("assignedCount")), "available_count": _int(item.get("availableCount")),
            "retired_count": _int(item.get("retiredCount")), "total_count": _int(item.get("totalCount"))}


def upsert_assets(s: Session, items: dict[tuple[str, str], dict], counts: SyncCounts | None = None) \
        -> dict[tuple[str, str], int]:
    """Asset ids by key; rows created or corrected from Apple's items."""
    counts = counts or SyncCounts()
    keys = list(items)
    existing: dict[tuple[str, str], Asset] = {}
    for chunk in _chunks(sorted({k[0] for k in keys})):
        for row in s.execute(select(Asset.id, Asset.adam_id, Asset.pricing_param, Asset.product_type,
                                    Asset.device_assignable, Asset.revocable, Asset.supported_platforms)
                             .where(Asset.adam_id.in_(chunk))):
            existing[(row.adam_id, row.pricing_param)] = row
    new, changed = [], []
    for key, item in items.items():
        values = _asset_values(item)
        row = existing.get(key)
        if row is None:
            new.append({"adam_id": key[0], "pricing_param": key[1], **values})
        elif any(getattr(row, k) != v for k, v in values.items()):
            changed.append({"id": row.id, **values, "updated_at": utcnow()})
    if new:
        s.execute(Asset.__table__.insert(), new)
        for chunk in _chunks(sorted({a["adam_id"] for a in new})):
            for row in s.execute(select(Asset.id, Asset.adam_id, Asset.pricing_param).where(Asset.adam_id.in_(chunk))):
                existing.setdefault((row.adam_id, row.pricing_param), row)
    if changed:
        s.execute(update(Asset), changed)
    counts.assets_created += len(new)
    counts.assets_updated += len(changed)
    return {key: existing[key].id for key in keys}


def apply_sync(s: Session, location_id: int, assets: list, assignments: list, rt=None) -> SyncCounts:
    """Store one full read of a location: Apple's ``assets`` and ``assignments`` items; the
    licences store apps waited for end, and ``rt`` (if given) wakes their devices."""
    counts = SyncCounts()
    items: dict[tuple[str, str], dict] = {}
    for item in assets:
        key = _asset_key(item)
        if key is None:
            counts.skipped.append(item)
            continue
        items[key] = item
    asset_ids = upsert_assets(s, items, counts)
    counts.assets = len(items)
    la_ids = _sync_counts(s, location_id, {asset_ids[key]: _counts(item) for key, item in items.items()}, counts)
    _sync_assignments(s, rt, location_id, asset_ids, la_ids, assignments, counts)
    s.execute(update(Location).where(Location.id == location_id).values(last_sync_at=utcnow()))
    return counts


def _sync_counts(s: Session, location_id: int, wanted: dict[int, dict], counts: SyncCounts) -> dict[int, int]:
    """The location's counts per asset id; its LocationAsset ids by asset id."""
    current = {row.asset_id: row for row in s.execute(
        select(LocationAsset.id, LocationAsset.asset_id, LocationAsset.assigned_count, LocationAsset.available_count,
               LocationAsset.retired_count, LocationAsset.total_count).where(LocationAsset.location_id == location_id))}
    new, changed = [], []
    now = utcnow()
    for asset_id, values in wanted.items():
        row = current.get(asset_id)
        if row is None:
            new.append({"location_id": location_id, "asset_id": asset_id, **values})
        elif any(getattr(row, k) != v for k, v in values.items()):
            changed.append({"id": row.id, **values, "updated_at": now})
    zero = dict.fromkeys(("assigned_count", "available_count", "retired_count", "total_count"), 0)
    for asset_id, row in current.items():  # gone from the location: kept (artifacts may name it), counted 0
        if asset_id not in wanted and any(getattr(row, k) for k in zero):
            changed.append({"id": row.id, **zero, "updated_at": now})
    if new:
        s.execute(LocationAsset.__table__.insert(), new)
    if changed:
        s.execute(update(LocationAsset), changed)
    counts.location_assets_created, counts.location_assets_updated = len(new), len(changed)
    return {row.asset_id: row.id for row in s.execute(select(LocationAsset.asset_id, LocationAsset.id)
                                                          .where(LocationAsset.location_id == location_id))}


def _sync_assignments(s: Session, rt, location_id: int, asset_ids: dict, la_ids: dict, assignments: list,
                      counts: SyncCounts) -> None:
    desired: set[tuple[int, str]] = set()
    for item in assignments:
        key = _asset_key(item)
        serial = item.get("serialNumber") if isinstance(item, dict) else None
        if key is None or not isinstance(serial, str) or not 0 < len(serial) <= MAX_SERIAL:
            if not (isinstance(item, dict) and item.get("clientUserId")):  # user licences: not ours to track
                counts.skipped.append(item)
            continue
        asset_id = asset_ids.get(key)
        if asset_id is None:  # an assignment of an asset the listing did not have (it changed between reads)
            counts.skipped.append(item)
            continue
        desired.add((la_ids[asset_id], serial))
    existing = {(row.location_asset_id, row.serial_number): row.id for row in s.execute(
        select(DeviceAssignment.id, DeviceAssignment.location_asset_id, DeviceAssignment.serial_number)
        .join(LocationAsset, LocationAsset.id == DeviceAssignment.location_asset_id)
        .where(LocationAsset.location_id == location_id))}
    missing = [{"location_asset_id": la, "serial_number": serial} for la, serial in desired - existing.keys()]
    stale = [existing[key] for key in existing.keys() - desired]
    if missing:
        s.execute(DeviceAssignment.__table__.insert(), missing)
    for chunk in _chunks(stale):
        s.execute(delete(DeviceAssignment).where(DeviceAssignment.id.in_(chunk)))
    counts.assignments = len(desired)
    counts.assignments_created, counts.assignments_deleted = len(missing), len(stale)
    if (missing or stale) and s.scalar(select(exists().where(
            LicenceRequest.location_asset_id == LocationAsset.id, LocationAsset.location_id == location_id))):
        licences.assigned(s, rt, [(m["location_asset_id"], m["serial_number"]) for m in missing])
        licences.unassigned(s, list(existing.keys() - desired))


def queue_sync(s: Session, rt, location_id: int) -> TaskResult:
    """A tracked sync of one location (``tasks.apps_books.sync_location``) once ``s`` commits."""
    from espalier.tasks.apps_books import SYNC_TIMEOUT, sync_location

    return rt.queue.defer(s, sync_location, location_id, name="apps_books_sync", queue="sync",
                          timeout=SYNC_TIMEOUT)


# -- listing ----------------------------------------------------------------------------

def list_location_assets(s: Session, *, adam_id: str | None = None, pricing_param: str | None = None,
                         location_id: int | None = None, limit: int | None = None,
                         offset: int = 0) -> tuple[list, int | None]:
    stmt = select(LocationAsset)
    if adam_id is not None or pricing_param is not None:
        stmt = stmt.join(Asset, Asset.id == LocationAsset.asset_id)
        if adam_id is not None:
            stmt = stmt.where(Asset.adam_id == adam_id)
        if pricing_param is not None:
            stmt = stmt.where(Asset.pricing_param == pricing_param)
    if location_id is not None:
        stmt = stmt.where(LocationAsset.location_id == location_id)
    count = None
    if limit is not None:
        count = s.scalar(select(func.count()).select_from(stmt.subquery()))
        stmt = stmt.limit(limit).offset(offset)
    return list(s.scalars(stmt.order_by(LocationAsset.id))), count


# -- notifications ----------------------------------------------------------------------

class BadNotification(ServiceError):
    """Not a notification we can read (400)."""


def first_time(s: Session, location: Location, notification_id: str, notification_type: str) -> bool:
    """Record the notification; False when it was handled already (Apple retries)."""
    if s.scalar(select(AppsBooksNotification.id).where(
            AppsBooksNotification.location_id == location.id,
            AppsBooksNotification.notification_id == notification_id)) is not None:
        return False
    try:
        with s.begin_nested():
            s.add(AppsBooksNotification(location_id=location.id, notification_id=notification_id,
                                        notification_type=notification_type))
            s.flush()
    except IntegrityError:  # the same notification, committed by a concurrent request just now
        return False
    return True


def handle_notification(s: Session, rt, location: Location, data: Any) -> str:
    """Apply one notification body (parsed JSON); what was done, for the log."""
    if not isinstance(data, dict):
        raise BadNotification("the body is not a JSON object")
    notification_id, kind = data.get("notificationId"), data.get("notificationType")
    payload = data.get("notification")
    if not (isinstance(notification_id, str) and 0 < len(notification_id) <= 128):
        raise BadNotification("notificationId: a string of at most 128 characters is required")
    if not (isinstance(kind, str) and 0 < len(kind) <= 64):
        raise BadNotification("notificationType: a string is required")
    if payload is not None and not isinstance(payload, dict):
        raise BadNotification("notification: must be an object")
    uid = data.get("uId")
    if uid is not None and uid != location.library_uid:
        raise BadNotification("uId is not this location's")
    if not first_time(s, location, notification_id, kind):
        return "duplicate"
    payload = payload or {}
    if kind == "ASSET_MANAGEMENT":
        return _asset_management(s, rt, location, payload)
    if kind == "ASSET_COUNT":
        return _asset_count(s, rt, location, payload)
    return "ignored"


def _location_asset(s: Session, location: Location, key: tuple[str, str]) -> LocationAsset | None:
    return s.scalar(select(LocationAsset).join(Asset, Asset.id == LocationAsset.asset_id).where(
        LocationAsset.location_id == location.id, Asset.adam_id == key[0], Asset.pricing_param == key[1])
        .with_for_update())


def _asset_count(s: Session, rt, location: Location, payload: dict) -> str:
    key, delta = _asset_key(payload), payload.get("countDelta")
    if key is None or not isinstance(delta, int) or isinstance(delta, bool) or abs(delta) >= 2**31:
        raise BadNotification("ASSET_COUNT: adamId, pricingParam and an integer countDelta are required")
    la = _location_asset(s, location, key)
    if la is None:
        queue_sync(s, rt, location.id)
        return "sync queued (unknown asset)"
    la.total_count = max(la.total_count + delta, 0)
    la.available_count = max(la.total_count - la.assigned_count - la.retired_count, 0)
    return f"count {delta:+d}"


def _asset_management(s: Session, rt, location: Location, payload: dict) -> str:
    kind, result, event_id = payload.get("type"), payload.get("result"), payload.get("eventId")
    assignments = payload.get("assignments") or []
    if not isinstance(assignments, list) or len(assignments) > 100_000:
        raise BadNotification("ASSET_MANAGEMENT: assignments must be a list")
    event = None
    if isinstance(event_id, str) and event_id:
        event = s.scalar(select(AppsBooksEvent).where(AppsBooksEvent.location_id == location.id,
                                                      AppsBooksEvent.event_id == event_id[:128]).with_for_update())
    if event is not None and event.status != "PENDING":
        return "event already finished"
    if result != "SUCCESS":
        if event is not None:
            event.status = "FAILED"
            event.failures = payload.get("failures") if isinstance(payload.get("failures"), list) else [
                {"errorMessage": str(payload.get("error", "failure"))[:500]}]
            licences.event_failed(s, location.id, event.event_id, event.failures)
        return f"{kind} failed"
    if event is not None:
        event.status = "COMPLETE"
    if kind not in ("ASSOCIATE", "DISASSOCIATE", "REVOKE"):
        return "ignored"
    moved, unknown = 0, False
    by_asset: dict[tuple[str, str], set[str]] = {}
    for item in assignments:
        key = _asset_key(item)
        serial = item.get("serialNumber") if isinstance(item, dict) else None
        if key is None or not isinstance(serial, str) or not 0 < len(serial) <= MAX_SERIAL:
            continue  # user licences, or junk
        by_asset.setdefault(key, set()).add(serial)
    for key, serials in by_asset.items():
        la = _location_asset(s, location, key)
        if la is None:
            unknown = True
        else:
            moved += _move(s, la, serials, associate=kind == "ASSOCIATE")
            if kind == "ASSOCIATE":
                licences.assigned(s, rt, [(la.id, serial) for serial in serials])
            else:
                licences.unassigned(s, [(la.id, serial) for serial in serials])
    if unknown:
        queue_sync(s, rt, location.id)
    return f"{kind} {moved} assignment(s)" + (", sync queued (unknown asset)" if unknown else "")


def _move(s: Session, la: LocationAsset, serials: set[str], associate: bool) -> int:
    """Add (or remove) the assignments of ``serials``; the counts follow. How many moved."""
    have = set(s.scalars(select(DeviceAssignment.serial_number).where(
        DeviceAssignment.location_asset_id == la.id, DeviceAssignment.serial_number.in_(sorted(serials)))))
    if associate:
        new = sorted(serials - have)
        if new:
            s.execute(DeviceAssignment.__table__.insert(), [
                {"location_asset_id": la.id, "serial_number": serial} for serial in new])
        la.assigned_count += len(new)
        la.available_count = max(la.available_count - len(new), 0)
        return len(new)
    gone = sorted(have)
    if gone:
        s.execute(delete(DeviceAssignment).where(DeviceAssignment.location_asset_id == la.id,
                                                 DeviceAssignment.serial_number.in_(gone)))
    la.assigned_count = max(la.assigned_count - len(gone), 0)
    la.available_count += len(gone)
    return len(gone)


# -- licence events ---------------------------------------------------------------------

def record_event(s: Session, location_id: int, kind: str, event_id: str, assets: list[dict],
                 serial_numbers: list[str]) -> AppsBooksEvent:
    """Remember an associate/disassociate Apple accepted (its ``eventId``), to be ended by its
    notification or by polling ``status``."""
    if kind not in ("ASSOCIATE", "DISASSOCIATE"):
        raise ValueError(kind)
    event = AppsBooksEvent(location_id=location_id, event_id=event_id, kind=kind, assets=assets,
                           serial_numbers=serial_numbers)
    s.add(event)
    s.flush()
    return event


def request_licences(s: Session, rt, location_id: int, kind: str, assets: list[dict],
                     serial_numbers: list[str]) -> AppsBooksEvent:
    """Ask Apple to associate (or disassociate) ``assets`` with devices; the recorded event.

    What a Store App artifact calls before InstallApplication (licence on demand)."""
    location = s.get(Location, location_id)
    if location is None:
        raise ServiceError(f"no location {location_id}")
    with rt.apps_books_client(rt.secrets.open_str(location, "server_token")) as client:
        call = client.associate if kind == "ASSOCIATE" else client.disassociate
        answer = call(assets, serial_numbers)
    event_id = answer.get("eventId")
    if not isinstance(event_id, str) or not event_id:
        raise ServiceError("Apple's answer has no eventId")
    return record_event(s, location_id, kind, event_id[:128], assets, serial_numbers)
