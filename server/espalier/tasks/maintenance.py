"""Housekeeping jobs: push certificate expiry warnings."""
from __future__ import annotations

import logging

from sqlalchemy import select

from espalier.models import PushCertificate, utcnow
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
