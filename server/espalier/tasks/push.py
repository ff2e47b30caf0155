"""Push jobs: wake devices through APNs."""
from __future__ import annotations


def notify_devices(device_ids: list[int]) -> None:
    """Send an MDM push to each device (one job fans out over one connection per certificate)."""
    from espalier.services import push

    push.notify(device_ids)
