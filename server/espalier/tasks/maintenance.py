"""Housekeeping jobs: push certificate expiry warnings, pruning answered inventory commands."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, select

from espalier.mdm.inventory import INVENTORY_COMMANDS
from espalier.models import DeviceCommand, PushCertificate, utcnow
from espalier.models.commands import FINAL_STATUSES
from espalier.runtime import current
from espalier.services import push_certificates as certs

log = logging.getLogger(__name__)


def check_push_certificates() -> dict:
    """Warn about certificates within 30 days of expiry; error about expired ones."""
    now = utcnow()
    expiring, expired = [], []
    with current().db.session() as s:
        for pc in s.scalars(select(PushCertificate).order_by(PushCertificate.id)):
            if certs.is_expired(pc, now):
                expired.append(pc.topic)
                log.error("push certificate %r (%s) EXPIRED on %s: devices cannot be woken; renew it in "
                          "Apple's portal (Renew, not Create) and upload it with PUT", pc.name, pc.topic,
                          pc.not_after.date())
            elif certs.is_expiring(pc, now):
                expiring.append(pc.topic)
                log.warning("push certificate %r (%s) expires in %d days (%s): renew it now (Renew, not Create)",
                            pc.name, pc.topic, certs.days_left(pc, now), pc.not_after.date())
    return {"expiring": expiring, "expired": expired}


INVENTORY_RETENTION = timedelta(days=30)


def prune_inventory_commands() -> dict:
    """Answered inventory commands are folded into the device row; drop them after a while so
    the queue table does not grow without bound (one row per device per day otherwise)."""
    cutoff = utcnow() - INVENTORY_RETENTION
    with current().db.session() as s, s.begin():
        result = s.execute(delete(DeviceCommand).where(
            DeviceCommand.name.in_(INVENTORY_COMMANDS), DeviceCommand.status.in_(FINAL_STATUSES),
            DeviceCommand.created_at < cutoff))
    return {"pruned": result.rowcount}
