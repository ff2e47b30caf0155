"""Send the due licence requests of store apps to Apple, in batches within its limits.

Rows are the work (models/store_apps.LicenceRequest): this job is queued when a device
asks for a licence and runs on the beat besides, so a lost job only delays. Each call
carries one asset and at most ``MAX_SERIALS`` serials (Apple's limit per associate or
disassociate). A THROTTLED answer leaves the rows queued until its Retry-After and stops
this location for this run; any other error backs off (services/licences.retry_or_fail).
Rows are locked while their call is made, and locked ones are skipped, so two runs never
send one row twice.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import select, update

from espalier.apple.apps_books import AppsBooksError, Throttled
from espalier.models import Asset, LicenceRequest, LocationAsset, utcnow
from espalier.services import apps_books, licences
from espalier.services.errors import ServiceError

log = logging.getLogger(__name__)

MAX_SERIALS = 1000
MAX_ROWS = 20_000  # per run; the next run takes the rest


def send_licence_requests(rt, location_ids: list[int] | None = None) -> dict:
    now = utcnow()
    sent = throttled = failed = 0
    with rt.db.session() as s, s.begin():
        stale = s.execute(update(LicenceRequest).where(  # events Apple never ended: ask again
            LicenceRequest.status == "requested", LicenceRequest.updated_at < now - licences.REQUESTED_GIVE_UP)
            .values(status="queued", event_id=None, next_attempt_at=now).execution_options(
            synchronize_session=False)).rowcount
    stmt = (select(LicenceRequest.id, LicenceRequest.kind, LocationAsset.location_id, LocationAsset.asset_id)
            .join(LocationAsset, LocationAsset.id == LicenceRequest.location_asset_id)
            .where(LicenceRequest.status == "queued", LicenceRequest.next_attempt_at <= now)
            .order_by(LicenceRequest.id).limit(MAX_ROWS))
    if location_ids is not None:
        stmt = stmt.where(LocationAsset.location_id.in_(location_ids))
    groups: dict[tuple[int, str, int], list[int]] = defaultdict(list)
    with rt.db.session() as s:
        for row in s.execute(stmt):
            groups[(row.location_id, row.kind, row.asset_id)].append(row.id)
    paused: set[int] = set()
    for (location_id, kind, asset_id), ids in sorted(groups.items()):
        for start in range(0, len(ids), MAX_SERIALS):
            if location_id in paused:
                break
            outcome = _send(rt, location_id, kind, asset_id, ids[start:start + MAX_SERIALS])
            if outcome == "throttled":
                paused.add(location_id)
            sent, throttled, failed = (sent + (outcome == "sent"), throttled + (outcome == "throttled"),
                                       failed + (outcome == "failed"))
    return {"requests": sent, "throttled": throttled, "failed": failed, "asked_again": stale}


def _send(rt, location_id: int, kind: str, asset_id: int, ids: list[int]) -> str | None:
    with rt.db.session() as s, s.begin():
        rows = list(s.scalars(select(LicenceRequest).where(LicenceRequest.id.in_(ids), LicenceRequest.status == "queued",
                                                           LicenceRequest.kind == kind)
                              .with_for_update(skip_locked=True)))
        if not rows:
            return None
        asset = s.get(Asset, asset_id)
        serials = [r.serial_number for r in rows]
        try:
            event = apps_books.request_licences(s, rt, location_id, kind, [
                {"adamId": asset.adam_id, "pricingParam": asset.pricing_param}], serials)
        except Throttled as exc:
            later = utcnow() + timedelta(seconds=max(exc.retry_after, 1))
            for r in rows:
                r.next_attempt_at = later
            log.info("Apps and Books location %s throttled licence requests for %.0f s", location_id, exc.retry_after)
            return "throttled"
        except (AppsBooksError, ServiceError) as exc:
            log.warning("Apps and Books location %s: %s of %s to %d device(s) refused: %s", location_id, kind,
                        asset.adam_id, len(rows), exc)
            licences.retry_or_fail(s, rows, str(exc))
            return "failed"
        for r in rows:
            r.status, r.event_id, r.error = "requested", event.event_id, None
        log.info("Apps and Books location %s: %s of %s to %d device(s), event %s", location_id, kind, asset.adam_id,
                 len(rows), event.event_id)
        return "sent"
