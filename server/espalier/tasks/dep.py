"""ADE device sync: a full fetch, then ``/devices/sync`` deltas, one transaction per page.

``sync_virtual_server_devices`` runs while it holds the server's sync claim (taken by
``services.dep_devices.start_sync``; one sync per server at a time). Each page's devices
and the cursor after it commit together, so a run that dies resumes where its last page
committed. Apple's cursor errors: ``EXHAUSTED_CURSOR`` on a fetch means the fetch is done
(switch to sync); ``EXPIRED_CURSOR``/``INVALID_CURSOR`` start a full fetch again (once per
run). The same cursor echoed with ``more_to_follow`` (an Apple bug) ends the run: the next
scheduled run tries again, never a tight loop. Progress (the counts so far) is written to
the task row with each page.
"""
from __future__ import annotations

import logging
import time

from sqlalchemy import select, text, update

from espalier.apple.abm import ABMError, client_for
from espalier.models import DEPEnrollment, DEPToken, DEPVirtualServer, TaskResult, utcnow
from espalier.services import dep_devices, dep_enrollments
from espalier.services.dep_devices import ClaimLost, Counts
from espalier.services.dep_tokens import credentials
from espalier.tasks.runner import Transient

log = logging.getLogger(__name__)

MAX_PAGES = 5000  # a bound per run: 5 million devices at 1000 a page


def sync_virtual_server_devices(rt, server_id: int, claim_token: str, full: bool = False) -> dict:
    counts = Counts()
    with rt.db.session() as s:
        server = s.get(DEPVirtualServer, server_id)
        if server is None or server.sync_claim != claim_token:
            return {"status": "SKIPPED", "reason": "another sync holds this server", **counts.as_dict()}
        token = s.get(DEPToken, server.token_id) if server.token_id else None
        if token is None or not token.has_credentials:
            _release(rt, server_id, claim_token)
            return {"status": "SKIPPED", "reason": "no server token uploaded", **counts.as_dict()}
        creds = credentials(rt.secrets, token)
        cursor, kind, fetch_started = server.cursor, server.cursor_kind, server.fetch_started_at
        task_id = server.sync_task_id
    if full or not cursor or kind not in ("fetch", "sync"):
        cursor, kind = None, "fetch"
    client = client_for(rt.settings.mdm["abm"], creds)
    resets, next_kind = 0, kind
    try:
        client.account()  # the page limits Apple advertises
        for _ in range(MAX_PAGES):
            page, cursor, kind, resets = _next_page(client, server_id, cursor, kind, resets)
            if page is None:
                continue
            now = utcnow()
            if kind == "fetch" and cursor is None:
                fetch_started = now
            fetch_done = kind == "fetch" and not page.more_to_follow
            echoed = bool(cursor) and page.more_to_follow and page.cursor == cursor
            next_kind = "sync" if fetch_done else kind
            _write_page(rt, server_id, claim_token, page, kind, cursor, next_kind, counts, now, fetch_started,
                        fetch_done, task_id)
            if echoed:
                log.warning("virtual server %s: Apple returned the same cursor with more_to_follow; "
                            "stopping this run, the next one tries again", server_id)
                counts.extra["echoed_cursor"] = True
                break
            if not page.more_to_follow:
                break
            cursor, kind = page.cursor, next_kind
    except ClaimLost as exc:
        log.warning("%s: stopping", exc)
        return {"status": "SKIPPED", "reason": str(exc), **counts.as_dict()}
    except ABMError as exc:
        if exc.status in (0, 429, 500, 502, 503, 504):
            log.warning("virtual server %s: sync failed (%s); the next run tries again", server_id, exc)
            raise Transient(str(exc)) from None
        raise
    finally:
        client.close()
        _release(rt, server_id, claim_token)
    with rt.db.session() as s, s.begin():
        assign_task = dep_enrollments.assign_default(s, rt, server_id)
    return {"status": "SUCCESS", "cursor_kind": next_kind, **counts.as_dict(),
            **({"default_assignment_task": assign_task} if assign_task else {})}


def _write_page(rt, server_id: int, claim_token: str, page, kind: str, cursor: str | None, next_kind: str,
                counts: Counts, now, fetch_started, fetch_done: bool, task_id: str | None) -> None:
    """One page's devices, its cursor and the task's progress, in one transaction."""
    with rt.db.session() as s, s.begin():
        if not rt.db.is_sqlite:
            # a crash may lose the last pages' commits, never split rows from their cursor:
            # the next run fetches them again; waiting for a flush per page doubled the time.
            # A first sync grows the table faster than autovacuum analyses it: on statistics of
            # an empty table the planner scans it whole for each page's serials (120 ms a page
            # at 100,000 rows) instead of using the unique index.
            s.execute(text("SET LOCAL synchronous_commit = off"))
            s.execute(text("SET LOCAL enable_seqscan = off"))
        dep_devices.apply_page(s, server_id, claim_token, page.devices, synced=kind == "sync",
                               cursor=page.cursor or cursor, cursor_kind=next_kind, counts=counts, now=now,
                               fetch_started_at=fetch_started,
                               **({} if page.more_to_follow else {"last_synced_at": now}))
        if fetch_done:
            dep_devices.mark_missing_deleted(s, server_id, fetch_started, counts)
        if task_id:
            s.execute(update(TaskResult).where(TaskResult.id == task_id)
                      .values(progress=counts.as_dict(), updated_at=now))


def _next_page(client, server_id: int, cursor: str | None, kind: str, resets: int):
    """(page or None to ask again, cursor, kind, resets) after Apple's cursor errors."""
    try:
        page = client.fetch_devices(cursor) if kind == "fetch" else client.sync_devices(cursor)
    except ABMError as exc:
        if exc.code == "EXHAUSTED_CURSOR" and kind == "fetch" and cursor:
            return None, cursor, "sync", resets  # that fetch had already returned everything
        if exc.code in ("EXPIRED_CURSOR", "INVALID_CURSOR") and resets == 0:
            log.warning("virtual server %s: %s; starting a full fetch", server_id, exc.code)
            return None, None, "fetch", resets + 1
        raise
    return page, cursor, kind, resets


def _release(rt, server_id: int, claim_token: str) -> None:
    with rt.db.session() as s, s.begin():
        dep_devices.release(s, server_id, claim_token)


def sync_all_virtual_servers(rt) -> dict:
    """The beat's job: start a sync of every virtual server with credentials (busy ones are left)."""
    started, busy = [], []
    with rt.db.session() as s, s.begin():
        ids = s.scalars(select(DEPVirtualServer.id).join(DEPToken, DEPVirtualServer.token_id == DEPToken.id)
                        .where(DEPToken.consumer_key.is_not(None)).order_by(DEPVirtualServer.id)).all()
        for server_id in ids:
            _, new = dep_devices.start_sync(s, rt.queue, server_id)
            (started if new else busy).append(server_id)
    return {"started": started, "busy": busy}


def check_dep_tokens(rt) -> dict:
    """Warn about server tokens within 30 days of expiry; error about expired ones (as push certificates)."""
    from espalier.services.dep_tokens import expiring_tokens

    now = utcnow()
    expiring, expired = [], []
    with rt.db.session() as s:
        for server, token in expiring_tokens(s, now):
            if token.is_expired(now):
                expired.append(server.uuid)
                log.error("ADE server token of %r (%s) EXPIRED on %s: download a new one in ABM and renew it",
                          server.name, server.uuid, token.access_token_expiry.date())
            else:
                expiring.append(server.uuid)
                log.warning("ADE server token of %r (%s) expires in %d days (%s): renew it",
                            server.name, server.uuid, token.days_left(now), token.access_token_expiry.date())
    return {"expiring": expiring, "expired": expired}


def assign_devices(rt, enrollment_id: int, serials: list[str]) -> dict:
    """Assign the enrollment's profile to ``serials`` at Apple, 1,000 a call; THROTTLED serials
    are tried again after Apple's ``retry_after_seconds`` (bounded), the rest recorded per device."""
    conf = rt.settings.mdm["abm"]
    with rt.db.session() as s:
        enrollment = s.get(DEPEnrollment, enrollment_id)
        if enrollment is None or enrollment.profile_uuid is None:
            return {"status": "SKIPPED", "reason": "the enrollment is gone or not defined at Apple"}
        profile_uuid, server_id = enrollment.profile_uuid, enrollment.virtual_server_id
        server = s.get(DEPVirtualServer, server_id)
        token = s.get(DEPToken, server.token_id) if server is not None and server.token_id else None
        if token is None or not token.has_credentials:
            return {"status": "SKIPPED", "reason": "no server token uploaded"}
        creds = credentials(rt.secrets, token)
    totals = {"success": 0, "failed": 0, "throttled": 0, "calls": 0}
    waiting = list(dict.fromkeys(serials))
    client = client_for(conf, creds)
    try:
        for round_ in range(conf["assign_retry_rounds"] + 1):
            throttled, retry_after = [], 0
            for start in range(0, len(waiting), dep_enrollments.ASSIGN_BATCH):
                batch = waiting[start:start + dep_enrollments.ASSIGN_BATCH]
                answer = _assign_batch(client, profile_uuid, batch)
                totals["calls"] += 1
                results = answer.get("devices") if isinstance(answer.get("devices"), dict) else {}
                with rt.db.session() as s, s.begin():
                    counts = dep_enrollments.record_assignment(s, s.get(DEPEnrollment, enrollment_id), profile_uuid,
                                                               {k: str(v) for k, v in results.items()})
                totals["success"] += counts["success"]
                totals["failed"] += counts["failed"]
                throttled += [serial for serial, status in results.items() if status == "THROTTLED"]
                retry_after = max(retry_after, _seconds(answer.get("retry_after_seconds")))
            if not throttled:
                break
            waiting = throttled
            if round_ == conf["assign_retry_rounds"]:
                totals["throttled"] = len(throttled)
                log.warning("enrollment %s: %d devices still throttled by Apple; assign them again later",
                            enrollment_id, len(throttled))
                break
            time.sleep(min(retry_after or 1, conf["assign_retry_max_seconds"]))
    finally:
        client.close()
    return {"status": "SUCCESS", "profile_uuid": profile_uuid, **totals}


def _assign_batch(client, profile_uuid: str, serials: list[str]) -> dict:
    try:
        answer = client.assign_profile(profile_uuid, serials)
    except ABMError as exc:
        if exc.status in (0, 429, 500, 502, 503, 504):
            raise Transient(str(exc)) from None
        raise
    return answer if isinstance(answer, dict) else {}


def _seconds(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 86400 else 0
