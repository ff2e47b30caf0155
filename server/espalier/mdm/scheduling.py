"""What a device is sent once its command queue is drained: each step in turn may queue one
command for the device's blueprint (artifacts first), the first that does wins.

A step is ``step(ctx, device) -> DeviceCommand | None``. ``device`` is the ORM device, or on
an Idle connect the session row (``lookup.SESSION_COLUMNS``); a step that needs more of the
device loads it with ``lookup.loaded`` once it knows it may have work. The blueprint is
read with ``ctx.s.get(Blueprint, id)``, so every step of a connect shares one SELECT. The
caller holds the device row lock: a step never queues what a concurrent connect queued.
"""
from __future__ import annotations

from espalier.models import DeviceCommand

from . import await_configuration, convergence, ddm, filevault, recovery_password, store_apps

# Artifacts first (profiles, then store apps), then FileVault (profile, PRK, rotation), the
# recovery lock / firmware password, a DDM sync when the device's declaration set changed,
# and last, for a device held in Setup Assistant (ADE), AccountConfiguration and
# DeviceConfigured.
STEPS = (convergence.next_command, store_apps.next_command, filevault.next_command, recovery_password.next_command,
         ddm.next_command, await_configuration.next_command)


def next_command(ctx, device) -> DeviceCommand | None:
    for step in STEPS:
        command = step(ctx, device)
        if command is not None:
            return command
    return None
