"""Push jobs: wake devices through APNs, and keep waking those that have not answered."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select

from espalier.models import DeviceCommand, EnrolledDevice, utcnow
from espalier.models.commands import PENDING
from espalier.runtime import current

log = logging.getLogger(__name__)

# Re-push a device whose oldest pending command is this old, at most this often.
BACKOFF = ((timedelta(minutes=15), timedelta(minutes=2)), (timedelta(hours=2), timedelta(minutes=10)),
           (timedelta(days=1), timedelta(hours=1)), (timedelta.max, timedelta(hours=6)))


def notify_devices(device_ids: list[int]) -> dict:
    """One job fans out over one connection per push certificate."""
    from espalier.services import push

    summary = push.notify(device_ids)
    return {"sent": len(summary.sent), "skipped": len(summary.skipped), "dead_tokens": len(summary.dead_tokens)}


def notify_devices_later(device_ids: list[int]) -> dict:
    """The delayed push for devices that were rate limited; it does not reschedule itself."""
    from espalier.services import push

    summary = push.notify(device_ids, reschedule=False)
    return {"sent": len(summary.sent), "skipped": len(summary.skipped)}


def due_for_renotify(pending_since, last_notified_at, now) -> bool:
    age = now - pending_since
    for limit, interval in BACKOFF:
        if age <= limit:
            return last_notified_at is None or now - last_notified_at >= interval
    return False


def renotify_pending(batch: int = 10_000) -> dict:
    """Devices with pending or NotNow commands are pushed again, minutes then hours apart."""
    now = utcnow()
    with current().db.session() as s:
        rows = s.execute(
            select(DeviceCommand.enrolled_device_id, func.min(DeviceCommand.created_at), EnrolledDevice.last_notified_at)
            .join(EnrolledDevice, EnrolledDevice.id == DeviceCommand.enrolled_device_id)
            .where(PENDING, EnrolledDevice.push_token.is_not(None), EnrolledDevice.push_token_invalid_at.is_(None),
                   EnrolledDevice.blocked_at.is_(None))
            .group_by(DeviceCommand.enrolled_device_id, EnrolledDevice.last_notified_at).limit(batch)).all()
    ids = [device_id for device_id, since, last in rows if due_for_renotify(since, last, now)]
    if ids:
        notify_devices(ids)
    return {"renotified": len(ids)}
