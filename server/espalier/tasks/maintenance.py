"""Housekeeping jobs: push certificate expiry warnings, pruning answered inventory commands."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, select

from espalier.mdm.inventory import INVENTORY_COMMANDS
from espalier.models import DeviceCommand, PushCertificate, utcnow
from espalier.models.commands import FINAL_STATUSES

log = logging.getLogger(__name__)

INVENTORY_RETENTION = timedelta(days=30)


def check_push_certificates(rt) -> dict:
    """Warn about certificates within 30 days of expiry; error about expired ones."""
    now = utcnow()
    expiring, expired = [], []
    with rt.db.session() as s:
        for pc in s.scalars(select(PushCertificate).order_by(PushCertificate.id)):
            if pc.is_expired(now):
                expired.append(pc.topic)
                log.error("push certificate %r (%s) EXPIRED on %s: devices cannot be woken; renew it in "
                          "Apple's portal (Renew, not Create) and upload it with PUT", pc.name, pc.topic,
                          pc.not_after.date())
            elif pc.is_expiring(now):
                expiring.append(pc.topic)
                log.warning("push certificate %r (%s) expires in %d days (%s): renew it now (Renew, not Create)",
                            pc.name, pc.topic, pc.days_left(now), pc.not_after.date())
    return {"expiring": expiring, "expired": expired}


def prune_inventory_commands(rt) -> dict:
    """Answered inventory commands are folded into the device row; drop them after a while so
    the queue table does not grow without bound (one row per device per day otherwise)."""
    cutoff = utcnow() - INVENTORY_RETENTION
    with rt.db.session() as s, s.begin():
        result = s.execute(delete(DeviceCommand).where(
            DeviceCommand.name.in_(INVENTORY_COMMANDS), DeviceCommand.status.in_(FINAL_STATUSES),
            DeviceCommand.created_at < cutoff))
    return {"pruned": result.rowcount}
