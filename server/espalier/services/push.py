"""Waking devices through APNs: select, push over one connection per certificate, record.

One call handles any number of devices: the rows are read in one query, pushes fan out
over the certificate's long-lived HTTP/2 connection, and outcomes are written back in
one transaction (bulk updates per outcome). A device is pushed at most once per
``MIN_INTERVAL``; a dead token (410 Unregistered, 400 BadDeviceToken) is not pushed again
until a newer TokenUpdate; a certificate APNs refuses (403) is marked and not used.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, update

from espalier.apple import apns
from espalier.models import EnrolledDevice, PushCertificate, utcnow
from espalier.runtime import current
from espalier.services import push_certificates as certs

log = logging.getLogger(__name__)

MIN_INTERVAL = timedelta(seconds=5)


class PushRetry(Exception):
    """Transient APNs failures remain; the job is retried (already pushed devices are skipped)."""


@dataclass
class PushSummary:
    sent: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    dead_tokens: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    certificate_errors: list[int] = field(default_factory=list)


def _client(pc: PushCertificate, key_pem: bytes) -> apns.APNsClient:
    conf = current().settings.mdm["apns"]
    return apns.APNsClient(pc.certificate.encode(), key_pem, pc.topic, sandbox=conf["sandbox"],
                           expiration_seconds=conf["expiration_seconds"], host=conf["host"], port=conf["port"],
                           verify=conf["ca_file"])


def notify(device_ids: list[int], *, force: bool = False, reschedule: bool = True) -> PushSummary:
    """Push the devices. One pushed less than ``MIN_INTERVAL`` ago is pushed once that passed
    (a command queued just after a push must not wait for the re-notify sweep)."""
    rt = current()
    now = utcnow()
    summary = PushSummary()
    rate_limited: list[int] = []
    with rt.db.session() as s:
        rows = s.execute(select(EnrolledDevice.id, EnrolledDevice.push_token, EnrolledDevice.push_magic,
                                EnrolledDevice.push_certificate_id, EnrolledDevice.last_notified_at).where(
            EnrolledDevice.id.in_(device_ids), EnrolledDevice.push_token.is_not(None),
            EnrolledDevice.push_magic.is_not(None), EnrolledDevice.push_token_invalid_at.is_(None),
            EnrolledDevice.blocked_at.is_(None), EnrolledDevice.checkout_at.is_(None))).all()
        cert_ids = {r.push_certificate_id for r in rows if r.push_certificate_id}
        pcs = {pc.id: pc for pc in s.scalars(select(PushCertificate).where(PushCertificate.id.in_(cert_ids)))}
        keys = {pc.id: certs.private_key_pem(rt.secrets, pc) for pc in pcs.values()}
    by_cert: dict[int, list[apns.PushTarget]] = defaultdict(list)
    for r in rows:
        if not force and r.last_notified_at and now - r.last_notified_at < MIN_INTERVAL:
            summary.skipped.append(r.id)
            rate_limited.append(r.id)
            continue
        pc = pcs.get(r.push_certificate_id)
        if pc is None or certs.state(pc, now) != "ok":
            summary.skipped.append(r.id)
            continue
        by_cert[pc.id].append(apns.PushTarget(str(r.id), r.push_token, r.push_magic))
    for cert_id, targets in by_cert.items():
        pc = pcs[cert_id]
        client = apns.get_client(pc.id, pc.fingerprint, lambda pc=pc: _client(pc, keys[pc.id]))
        _record(client.push_many_sync(targets), pc, summary, now)
    if rate_limited and reschedule:
        rt.queue.submit_in(MIN_INTERVAL.total_seconds(), "espalier.tasks.push:notify_devices_later",
                           (rate_limited,), queue="push")
    if summary.retry:
        raise PushRetry(f"{len(summary.retry)} push(es) to retry")
    return summary


def _record(results: list[apns.PushResult], pc: PushCertificate, summary: PushSummary, now) -> None:
    dead: list[tuple[int, object, str]] = []
    cert_error = None
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
    with current().db.session() as s, s.begin():
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
