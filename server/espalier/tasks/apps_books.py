"""Apps and Books jobs: sync a location, sync them all (beat), poll licence events.

A sync reads every page of the location's ``assets`` and then of its ``assignments``; when
a listing's ``versionId`` moves mid-read (Apple took a write) that listing is read again
from page 0, a few times at most. Only a complete, consistent read is stored
(``services.apps_books.apply_sync``, one transaction). Two syncs of one location never
overlap: the job first claims ``locations.sync_lock`` with a conditional UPDATE in a
transaction of its own (the same on PostgreSQL and SQLite); a claim older than
``LOCK_STALE`` (a killed worker; the task's timeout, so the lost-task sweep's rerun gets it)
can be taken over.
"""
from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta

from sqlalchemy import or_, select, update

from espalier.apple.apps_books import AppsBooksError, VersionChanged
from espalier.models import AppsBooksEvent, Location, utcnow
from espalier.services import apps_books as svc
from espalier.services import licences
from espalier.tasks.runner import Transient

log = logging.getLogger(__name__)

MAX_RESTARTS = 5
SYNC_TIMEOUT = 3600  # the task's timeout: the lost-task sweep starts it again a minute after
LOCK_STALE = timedelta(seconds=SYNC_TIMEOUT)  # ...and by then a dead run's claim is stale
EVENT_POLL_AFTER = timedelta(minutes=2)  # a notification normally comes well before
EVENT_GIVE_UP = timedelta(days=2)


def acquire(rt, location_id: int) -> str | None:
    """This sync's claim on the location, or None while another sync holds it."""
    token, now = str(uuid.uuid4()), utcnow()
    with rt.db.session() as s, s.begin():
        claimed = s.execute(update(Location).where(
            Location.id == location_id,
            or_(Location.sync_lock.is_(None), Location.sync_locked_at < now - LOCK_STALE))
            .values(sync_lock=token, sync_locked_at=now).execution_options(synchronize_session=False)).rowcount
    return token if claimed == 1 else None


def release(rt, location_id: int, token: str) -> None:
    with rt.db.session() as s, s.begin():
        s.execute(update(Location).where(Location.id == location_id, Location.sync_lock == token)
                  .values(sync_lock=None, sync_locked_at=None).execution_options(synchronize_session=False))


def fetch_all(client, path: str, key: str, stats: dict) -> list:
    """Every item of a paged listing, read again from the start when its versionId moves."""
    for _ in range(MAX_RESTARTS + 1):
        items: list = []
        try:
            for page in client.iter_pages(path, key):
                stats["pages"] += 1
                items.extend(page)
            return items
        except VersionChanged as exc:
            stats["restarts"] += 1
            log.info("Apps and Books %s changed while read (%s): reading again", path, exc)
    raise Transient(f"{path} kept changing while read ({MAX_RESTARTS} restarts): the next sync tries again")


def sync_location(rt, location_id: int) -> dict:
    """Read the location's assets and assignments from Apple and store them."""
    started = time.monotonic()
    with rt.db.session() as s:
        location = s.get(Location, location_id)
        if location is None:
            return {"location": location_id, "skipped": "no such location"}
        token = rt.secrets.open_str(location, "server_token")
        name = location.name
    lock = acquire(rt, location_id)
    if lock is None:
        log.info("Apps and Books location %r: a sync is already running; this one is skipped", name)
        return {"location": location_id, "skipped": "another sync of this location is running"}
    try:
        stats = {"pages": 0, "restarts": 0}
        with rt.apps_books_client(token) as client:
            try:
                assets = fetch_all(client, "assets", "assets", stats)
                assignments = fetch_all(client, "assignments", "assignments", stats)
            except AppsBooksError as exc:
                log.warning("Apps and Books location %r: sync failed: %s", name, exc)
                raise Transient(str(exc)) from None
            requests = client.requests
        fetched = time.monotonic()
        with rt.db.session() as s, s.begin():
            counts = svc.apply_sync(s, location_id, assets, assignments, rt)
    finally:
        release(rt, location_id, lock)
    result = {"location": location_id, **counts.as_dict(), **stats, "requests": requests,
              "fetch_seconds": round(fetched - started, 3), "duration_seconds": round(time.monotonic() - started, 3)}
    if counts.skipped:
        log.warning("Apps and Books location %r: %d item(s) unreadable, skipped", name, len(counts.skipped))
    log.info("Apps and Books location %r synced: %s assets, %s assignments (+%s -%s) in %.1f s", name,
             counts.assets, counts.assignments, counts.assignments_created, counts.assignments_deleted,
             result["duration_seconds"])
    return result


def sync_all_locations(rt) -> dict:
    """The beat's job: a tracked sync of every location."""
    with rt.db.session() as s, s.begin():
        ids = list(s.scalars(select(Location.id).order_by(Location.id)))
        tasks = [svc.queue_sync(s, rt, location_id).id for location_id in ids]
    return {"queued": len(tasks), "tasks": tasks}


def poll_events(rt, batch: int = 100) -> dict:
    """Licence events Apple did not notify us about: ask ``status``; a finished one queues a
    sync of its location (the notification would have said which assignments moved)."""
    now = utcnow()
    done, failed, pending = 0, 0, 0
    with rt.db.session() as s:
        events = list(s.execute(select(AppsBooksEvent.id, AppsBooksEvent.location_id, AppsBooksEvent.event_id,
                                       AppsBooksEvent.created_at)
                                .where(AppsBooksEvent.status == "PENDING",
                                       AppsBooksEvent.updated_at < now - EVENT_POLL_AFTER)
                                .order_by(AppsBooksEvent.updated_at).limit(batch)))
    for event in events:
        with rt.db.session() as s, s.begin():
            location = s.get(Location, event.location_id)
            row = s.get(AppsBooksEvent, event.id, with_for_update=True)
            if row is None or row.status != "PENDING":
                continue
            try:
                with rt.apps_books_client(rt.secrets.open_str(location, "server_token")) as client:
                    status = client.event_status(row.event_id)
            except AppsBooksError as exc:
                log.warning("Apps and Books event %s: status not read: %s", row.event_id, exc)
                status = {}
            state = status.get("eventStatus")
            if state in ("COMPLETE", "FAILED"):
                row.status = state
                failures = status.get("failures")
                row.failures = failures if isinstance(failures, list) else None
                if state == "FAILED":
                    licences.event_failed(s, location.id, row.event_id, row.failures)
                svc.queue_sync(s, rt, location.id)
                done, failed = done + (state == "COMPLETE"), failed + (state == "FAILED")
            elif now - event.created_at > EVENT_GIVE_UP:
                row.status = "FAILED"
                row.failures = [{"errorMessage": "no answer from Apple in 2 days"}]
                licences.event_failed(s, location.id, row.event_id, row.failures)
                failed += 1
            else:
                row.updated_at = now  # polled: next time after EVENT_POLL_AFTER again
                pending += 1
    return {"complete": done, "failed": failed, "pending": pending}
