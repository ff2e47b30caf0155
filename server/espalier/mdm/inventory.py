"""Automatic inventory: DeviceInformation and SecurityInfo after enrollment and every interval
(the device's blueprint's ``inventory_interval``; without a blueprint, the server's setting).

The due check reads only the device row and the interval (an Idle connect reads the
blueprint's with the rest of its session's work), so it costs nothing of its own.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from espalier.mdm.queue import add_commands
from espalier.models import Blueprint, EnrolledDevice

INVENTORY_COMMANDS = ("DeviceInformation", "SecurityInfo")
MANAGED_ONLY = 1


def interval(ctx, blueprint_id: int | None) -> int:
    """Seconds between inventories: the device's blueprint's, else the server's setting."""
    value = None
    if blueprint_id is not None and ctx.epoch is not None:  # the blueprint the steps read (cached)
        blueprint = ctx.blueprint(blueprint_id)
        value = blueprint.inventory_interval if blueprint is not None else None
    elif blueprint_id is not None:
        value = ctx.s.scalar(select(Blueprint.inventory_interval).where(Blueprint.id == blueprint_id))
    return effective_interval(ctx, value)


def effective_interval(ctx, blueprint_interval: int | None) -> int:
    """``interval`` for a blueprint's interval already read (None: no blueprint)."""
    return blueprint_interval or ctx.config.inventory_interval


def is_due(device: EnrolledDevice, interval: int, now) -> bool:
    if device.enrolled_at is None:
        return False
    horizon = now - timedelta(seconds=interval)
    last = device.last_inventory_at
    queued = device.inventory_queued_at
    if last is not None and last > horizon:
        return False
    # Already asked and not answered yet: don't pile up more requests until the interval passes again.
    return queued is None or queued <= horizon or (last is not None and queued < last)


def _collected(blueprint: Blueprint | None) -> list[tuple[str, int]]:
    """The lists a blueprint collects (0 no, 1 managed only, 2 all, as Zentral)."""
    if blueprint is None:
        return []
    return [(name, option) for name, option in (
        ("ProfileList", blueprint.collect_profiles), ("CertificateList", blueprint.collect_certificates),
        ("InstalledApplicationList", blueprint.collect_apps)) if option]


def queue_inventory(ctx, device: EnrolledDevice) -> None:
    """Queue the inventory commands (one INSERT) and stamp the device (its next flush)."""
    device.inventory_queued_at = ctx.now
    add_commands_of(ctx, device)


def add_commands_of(ctx, device) -> None:
    """The inventory commands of ``device`` (the ORM device or a row of its id, platform,
    user_enrollment and blueprint_id) in one INSERT; the caller stamps inventory_queued_at."""
    from espalier.mdm.commands import get

    commands = [(name, get(name).validate(device, {})) for name in INVENTORY_COMMANDS]
    blueprint = ctx.s.get(Blueprint, device.blueprint_id) if device.blueprint_id else None
    commands += [(name, get(name).validate(device, {"managed_only": option == MANAGED_ONLY}))
                 for name, option in _collected(blueprint)]
    add_commands(ctx.s, ctx.secrets, device.id, commands)
