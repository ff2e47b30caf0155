"""Waking devices through APNs: the push fan-out job and the re-notify sweep.

One job handles any number of devices: the rows are read in one query, pushes fan out
over each certificate's long-lived HTTP/2 connection (``rt.apns``), and outcomes are
written back in one transaction (bulk updates per outcome). A device is pushed at most
once per ``MIN_INTERVAL``; a dead token (410 Unregistered, 400 BadDeviceToken) is not
pushed again until a newer TokenUpdate; a certificate APNs refuses (403) is marked and
not used. ``notify_after_commit`` is how everything else asks for a push.

Transient APNs failures (429, 5xx, a dropped connection) are retried: untracked push jobs
by the queue (``RQTaskQueue``'s retries), an operator's tracked task inside its job, a few
seconds apart, so its row ends finished once the retries got through.
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from espalier.apple import apns
from espalier.models import DeviceCommand, EnrolledDevice, PushCertificate, TaskResult, utcnow
from espalier.services.demo import is_demo_topic
from espalier.tasks.queue import Job, TaskQueue
from espalier.tasks.runner import Transient

log = logging.getLogger(__name__)

MIN_INTERVAL = timedelta(seconds=5)
# Pauses before a tracked push retries its transient failures: short, so the task's row, which
# the job does not touch meanwhile, never looks lost (``sweeps.task_lost_after_seconds``).
TRACKED_RETRY_DELAYS = (1.0, 2.0)
MAX_DEVICES_PER_REQUEST = 10_000
# Re-push a device whose oldest pending command is this old, at most this often.
BACKOFF = ((timedelta(minutes=15), timedelta(minutes=2)), (timedelta(hours=2), timedelta(minutes=10)),
           (timedelta(days=1), timedelta(hours=1)), (timedelta.max, timedelta(hours=6)))


class Outages:
    """APNs failures as operators need them: one line per certificate when an outage starts
    (what failed, since when, next retry), one when it ends; never one per push (per process)."""

    def __init__(self):
        # Keyed by fingerprint: a renewal is another certificate, with outages of its own.
        self._since: dict[str, object] = {}
        self._demo_said: set[str] = set()

    def failed(self, pc: PushCertificate, reason: str | None, count: int, now) -> None:
        if pc.fingerprint in self._since:
            return
        self._since[pc.fingerprint] = now
        retry = now + BACKOFF[0][1]
        log.warning("push certificate %s (%s): APNs unreachable since %s UTC: %s (%d push(es) pending); next "
                    "retry by %s UTC (job retry, then the re-notify sweep)", pc.id, pc.topic,
                    f"{now:%Y-%m-%d %H:%M:%S}", reason or "no answer", count, f"{retry:%H:%M:%S}")

    def recovered(self, pc: PushCertificate, now) -> None:
        since = self._since.pop(pc.fingerprint, None)
        if since is not None:
            log.warning("push certificate %s (%s): APNs reachable again (outage since %s UTC, %d s)", pc.id,
                        pc.topic, f"{since:%Y-%m-%d %H:%M:%S}", (now - since).total_seconds())

    def demo(self, pc: PushCertificate) -> None:
        if pc.fingerprint not in self._demo_said:
            self._demo_said.add(pc.fingerprint)
            log.warning("push certificate %s is the demo's throw-away certificate (%s): APNs would refuse it, "
                        "so devices are not woken; simulated devices with --stay poll instead", pc.id, pc.topic)


outages = Outages()


@dataclass
class PushSummary:
    sent: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    dead_tokens: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    certificate_errors: list[int] = field(default_factory=list)

    def counts(self) -> dict:
        return {"sent": len(self.sent), "skipped": len(self.skipped), "dead_tokens": len(self.dead_tokens)}

    def add(self, other: PushSummary) -> None:
        """Add a retry's outcomes (its devices were this summary's ``retry``)."""
        for name in ("sent", "skipped", "dead_tokens", "certificate_errors"):
            getattr(self, name).extend(getattr(other, name))
        self.retry = list(other.retry)


class PushRetry(Transient):
    """Transient APNs failures remain; the job is retried (already pushed devices are skipped)."""

    def __init__(self, summary: PushSummary):
        super().__init__(f"{len(summary.retry)} push(es) to retry")
        self.summary = summary


def notify_after_commit(s: Session, queue: TaskQueue, device_ids) -> None:
    """Push the devices once ``s`` commits (untracked: a lost push is redone by the sweep)."""
    if device_ids:
        queue.defer(s, notify_devices, sorted(set(device_ids)), track=False, queue="push", merge=True)


def notify_tracked(s: Session, queue: TaskQueue, device_ids: list[int]) -> TaskResult:
    """Operators waking devices now: a tracked task whose result counts the outcomes."""
    return queue.defer(s, notify_devices_tracked, sorted(set(device_ids))[:MAX_DEVICES_PER_REQUEST],
                       name="notify_devices", queue="push")


def notify_devices(rt, device_ids: list[int]) -> dict:
    """The push job: one fan-out over one connection per push certificate."""
    return push(rt, device_ids).counts()


def notify_devices_tracked(rt, device_ids: list[int]) -> dict:
    """An operator's push task: transient failures are retried here (a tracked job gets no
    queue retries: its row would read failed meanwhile), then the task fails."""
    summary = _push_once(rt, device_ids)
    for delay in TRACKED_RETRY_DELAYS:
        if not summary.retry:
            break
        log.info("%d push(es) to retry in %.0f s", len(summary.retry), delay)
        time.sleep(delay)
        summary.add(_push_once(rt, summary.retry))
    if summary.retry:
        raise PushRetry(summary)
    return summary.counts()


def _push_once(rt, device_ids: list[int]) -> PushSummary:
    try:
        return push(rt, device_ids)
    except PushRetry as exc:
        return exc.summary


def notify_devices_later(rt, device_ids: list[int]) -> dict:
    """The delayed push for devices that were rate limited; it does not reschedule itself."""
    return push(rt, device_ids, reschedule=False).counts()


def push(rt, device_ids: list[int], *, force: bool = False, reschedule: bool = True) -> PushSummary:
    """Push the devices. One pushed less than ``MIN_INTERVAL`` ago is pushed once that passed
    (a command queued just after a push must not wait for the re-notify sweep)."""
    now = utcnow()
    summary = PushSummary()
    rate_limited: list[int] = []
    with rt.db.session() as s:
        rows = s.execute(select(EnrolledDevice.id, EnrolledDevice.push_token, EnrolledDevice.push_magic,
                                EnrolledDevice.push_certificate_id, EnrolledDevice.last_notified_at).where(
            EnrolledDevice.id.in_(device_ids), EnrolledDevice.pushable)).all()
        cert_ids = {r.push_certificate_id for r in rows if r.push_certificate_id}
        pcs = {pc.id: pc for pc in s.scalars(select(PushCertificate).where(PushCertificate.id.in_(cert_ids)))}
    by_cert: dict[int, list[apns.PushTarget]] = defaultdict(list)
    for r in rows:
        if not force and r.last_notified_at and now - r.last_notified_at < MIN_INTERVAL:
            summary.skipped.append(r.id)
            rate_limited.append(r.id)
            continue
        pc = pcs.get(r.push_certificate_id)
        if pc is None or pc.state(now) != "ok" or is_demo_topic(pc.topic):
            if pc is not None and is_demo_topic(pc.topic):
                outages.demo(pc)
            summary.skipped.append(r.id)
            continue
        by_cert[pc.id].append(apns.PushTarget(str(r.id), r.push_token, r.push_magic))
    for cert_id, targets in by_cert.items():
        pc = pcs[cert_id]
        client = rt.apns.client(pc.id, pc.fingerprint, pc.certificate.encode(), pc.topic,
                                lambda pc=pc: rt.secrets.open(pc, "private_key"))
        _record(rt, client.push_many_sync(targets), pc, summary, now)
    if rate_limited and reschedule:
        try:
            rt.queue.submit_in(MIN_INTERVAL.total_seconds(), Job(notify_devices_later, (rate_limited,), "push"))
        except Exception as exc:  # the pushes went out; the re-notify sweep covers these devices
            log.warning("cannot schedule the delayed push of %d rate limited device(s) (%s: %s); "
                        "the re-notify sweep will push them", len(rate_limited), type(exc).__name__, exc)
    if summary.retry:
        raise PushRetry(summary)
    return summary


def _record(rt, results: list[apns.PushResult], pc: PushCertificate, summary: PushSummary, now) -> None:
    dead: list[tuple[int, object, str]] = []
    cert_error = None
    retry_reason = None
    retries = 0
    for res in results:
        device_id = int(res.target.device_key)
        if res.outcome == "sent":
            summary.sent.append(device_id)
        elif res.outcome in ("unregistered", "bad_token"):
            summary.dead_tokens.append(device_id)
            dead.append((device_id, (res.timestamp.replace(tzinfo=None) if res.timestamp else now),
                         res.reason or res.outcome))
        elif res.outcome == "certificate_error":
            summary.certificate_errors.append(device_id)
            cert_error = f"APNs refused the certificate: {res.status} {res.reason}"
        else:
            summary.retry.append(device_id)
            retries += 1
            retry_reason = retry_reason or " ".join(str(x) for x in (res.status, res.reason) if x)
    if retries:
        outages.failed(pc, retry_reason, retries, now)
    elif results:
        outages.recovered(pc, now)
    with rt.db.session() as s, s.begin():
        if summary.sent:
            s.execute(update(EnrolledDevice).where(EnrolledDevice.id.in_(summary.sent))
                      .values(last_notified_at=now), execution_options={"synchronize_session": False})
        for device_id, when, reason in dead:
            log.warning("device %s: push token rejected by APNs (%s); waiting for a new TokenUpdate", device_id, reason)
            s.execute(update(EnrolledDevice).where(EnrolledDevice.id == device_id)
                      .values(push_token_invalid_at=when, push_token_error=reason[:64]))
        if cert_error:
            log.error("push certificate %s (%s): %s", pc.id, pc.topic, cert_error)
            s.execute(update(PushCertificate).where(PushCertificate.id == pc.id)
                      .values(status="error", status_message=cert_error))


def due_for_renotify(pending_since, last_notified_at, now) -> bool:
    age = now - pending_since
    for limit, interval in BACKOFF:
        if age <= limit:
            return last_notified_at is None or now - last_notified_at >= interval
    return False


def renotify_pending(rt, batch: int = 10_000) -> dict:
    """The sweep: devices with pending or NotNow commands are pushed again, minutes then hours apart.

    It also covers a push job that was lost (queue down when the command was queued)."""
    now = utcnow()
    with rt.db.session() as s:
        rows = s.execute(
            select(DeviceCommand.enrolled_device_id, func.min(DeviceCommand.created_at), EnrolledDevice.last_notified_at)
            .join(EnrolledDevice, EnrolledDevice.id == DeviceCommand.enrolled_device_id)
            .where(DeviceCommand.is_pending, EnrolledDevice.pushable)
            .group_by(DeviceCommand.enrolled_device_id, EnrolledDevice.last_notified_at).limit(batch)).all()
    ids = [device_id for device_id, since, last in rows if due_for_renotify(since, last, now)]
    if ids:
        notify_devices(rt, ids)
    return {"renotified": len(ids)}
