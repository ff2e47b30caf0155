"""Housekeeping jobs: push certificate expiry warnings, due inventories, pruning answered
inventory commands."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, or_, select

from espalier.mdm import inventory
from espalier.mdm.inventory import INVENTORY_COMMANDS
from espalier.models import DeviceCommand, EnrolledDevice, Location, PushCertificate, utcnow
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


def check_locations(rt) -> dict:
    """Warn about Apps and Books tokens within 30 days of expiry; error about expired ones."""
    now = utcnow()
    expiring, expired = [], []
    with rt.db.session() as s:
        for loc in s.scalars(select(Location).order_by(Location.id)):
            if loc.is_expired(now):
                expired.append(loc.id)
                log.error("Apps and Books location %r token EXPIRED on %s: download a new token in Apple "
                          "Business Manager and upload it (PUT /api/mdm/locations/%s/)", loc.name,
                          loc.server_token_expiration_date.date(), loc.id)
            elif loc.is_expiring(now):
                expiring.append(loc.id)
                log.warning("Apps and Books location %r token expires in %d days (%s): upload a new one",
                            loc.name, loc.days_left(now), loc.server_token_expiration_date.date())
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


def queue_due_inventories(rt, batch: int = 1000) -> dict:
    """Devices whose inventory is due get it queued and are pushed: a device connects only
    when woken, so waiting for its next contact could wait forever. The renotify sweep then
    wakes the ones that do not answer, minutes then hours apart."""
    from espalier.tasks.push import notify_after_commit

    # blueprints allow four hours at least; the server setting may say less
    floor = timedelta(seconds=min(rt.config.inventory_interval, 4 * 3600))
    with rt.db.session() as s, s.begin():
        ctx = rt.mdm_context(s)
        devices = s.scalars(
            select(EnrolledDevice)
            .where(EnrolledDevice.pushable, EnrolledDevice.enrolled_at.is_not(None),
                   or_(EnrolledDevice.last_inventory_at.is_(None), EnrolledDevice.last_inventory_at < ctx.now - floor))
            .order_by(EnrolledDevice.last_inventory_at.nulls_first(), EnrolledDevice.id).limit(batch)
            .with_for_update(skip_locked=True)).all()  # a device connecting now decides for itself
        intervals: dict[int | None, int] = {}
        due = []
        for device in devices:
            if device.blueprint_id not in intervals:
                intervals[device.blueprint_id] = inventory.interval(ctx, device.blueprint_id)
            if inventory.is_due(device, intervals[device.blueprint_id], ctx.now):
                inventory.queue_inventory(ctx, device)
                due.append(device.id)
        notify_after_commit(s, rt.queue, due)
    if due:
        log.info("inventory due on %s device(s): queued and pushed", len(due))
    return {"queued": len(due)}

