"""Waking devices: the one place that asks for a push after a command is queued."""
from __future__ import annotations

from sqlalchemy.orm import Session


def devices_after_commit(s: Session, device_ids: list[int]) -> None:
    """Push the devices once ``s`` commits (an untracked job on the ``push`` queue)."""
    from espalier.tasks.queue import defer

    if device_ids:
        defer(s, "espalier.tasks.push:notify_devices", sorted(set(device_ids)), track=False, queue="push")
