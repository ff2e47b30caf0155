"""Syncing the software update catalogue from Apple's feed: an operator's tracked task
(``POST /api/mdm/software_updates/sync/``) and the beat's daily run (``tasks.periodic``).

The feed is read before any transaction opens (no row lock held over the network); a feed
that cannot be read or parsed fails the task and leaves the catalogue as it was.
"""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from espalier.apple import gdmf
from espalier.models import TaskResult
from espalier.services import software_updates
from espalier.tasks.runner import Transient

log = logging.getLogger(__name__)


class FeedUnavailable(Transient):
    """The feed could not be read or is not the catalogue (already logged)."""


def start_sync(s: Session, queue) -> TaskResult:
    return queue.defer(s, sync_software_updates, name="sync_software_updates", queue="sync")


def sync_software_updates(rt) -> dict:
    """Fetch the feed, make the catalogue match it; the counts (``created``, ``present``, ``deleted``)."""
    config = rt.settings.mdm["software_updates"]
    try:
        feed = gdmf.fetch(config["url"], config["ca_bundle"], timeout=config["timeout_seconds"],
                          max_bytes=config["max_bytes"])
        entries = gdmf.parse(feed)
    except gdmf.FeedError as exc:
        log.warning("software update catalogue not synced: %s", exc)
        raise FeedUnavailable(str(exc)) from None
    with rt.db.session() as s, s.begin():
        result = software_updates.sync(s, entries)
    log.info("software update catalogue synced: %s", result)
    return result
