"""The recovery lock (Apple silicon) or firmware password (Intel) of blueprint Macs.

A blueprint with a recovery password configuration has each Mac's set once, then rotated
every ``rotation_interval_days`` (on Intel only with ``rotate_firmware_password``), as
Zentral's scheduling does: never while the last such command is pending, nor for
``filevault.BACKOFF`` after the last one ended without changing it. Not after a reveal
(Zentral rotates neither password after it is viewed). A Mac that leaves the configuration
keeps its password, as in Zentral.

Nothing is lost on the way: the new password travels sealed in the command's arguments,
with ``CurrentPassword`` (the one stored) when there is one. ``SetRecoveryLock``
acknowledged: it becomes the device's ``recovery_password``. ``SetFirmwarePassword``
acknowledged with ``PasswordChanged``: it is kept as ``pending_recovery_password`` (applied
at the next restart; a RestartDevice with NotifyUser is queued, as Zentral does) until a
SecurityInfo shows it in effect (``FirmwarePasswordStatus``: ``PasswordExists`` and no
``ChangePending``) and a VerifyFirmwarePassword confirms the Mac has it, then promoted. An
Error keeps the stored password as it was.
"""
from __future__ import annotations

import logging
import secrets
import string
from datetime import timedelta

from espalier.models import DeviceCommand, EnrolledDevice, RecoveryPasswordConfig

from . import filevault, queue

log = logging.getLogger(__name__)

RECOVERY_LOCK, FIRMWARE_PASSWORD, VERIFY = "SetRecoveryLock", "SetFirmwarePassword", "VerifyFirmwarePassword"
# Zentral's generated password: get_random_string(12), letters and digits (typable in EFI).
ALPHABET = string.ascii_letters + string.digits
LENGTH = 12
PENDING_POLL = timedelta(hours=1)  # a SecurityInfo at most this often while a firmware password waits


def generate_password() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def command_for(device) -> str | None:
    if device.platform != "macOS" or device.apple_silicon is None:
        return None  # not known yet: DeviceInformation tells
    return RECOVERY_LOCK if device.apple_silicon else FIRMWARE_PASSWORD


def next_command(ctx, device) -> DeviceCommand | None:
    name = command_for(device)
    if name is None or device.blueprint_id is None:
        return None
    if device.pending_recovery_password_at is not None:
        return _check_pending(ctx, device)
    blueprint = filevault.blueprint_of(ctx, device)
    config = blueprint.recovery_password_config if blueprint is not None else None
    if config is None:
        return None
    updated_at = device.recovery_password_updated_at
    rotating = config.rotation_interval_days and (device.apple_silicon or config.rotate_firmware_password)
    if updated_at is not None and (not rotating or ctx.now - updated_at < timedelta(days=config.rotation_interval_days)):
        return None
    device = filevault.orm_device(ctx, device)
    if device.user_enrollment or filevault.waiting(ctx, device.id, (name,), after_success=True):
        return None
    return _set(ctx, device, name, config)


def _set(ctx, device: EnrolledDevice, name: str, config: RecoveryPasswordConfig) -> DeviceCommand:
    new = (ctx.secrets.open_str(config, "static_password") if not config.dynamic_password else None) \
        or generate_password()
    arguments = {"NewPassword": new}
    current = ctx.secrets.open_str(device, "recovery_password") if device.recovery_password else None
    if current:
        arguments["CurrentPassword"] = current
    log.info("device %s: %s (%s)", device.udid, name, "rotation" if current else "first")
    return queue.add_command(ctx.s, ctx.secrets, device.id, name, arguments)


def _check_pending(ctx, device) -> DeviceCommand | None:
    """A firmware password waits for a restart: ask SecurityInfo whether it applies, at most every PENDING_POLL."""
    last = device.last_inventory_at
    if last is not None and last > device.pending_recovery_password_at and ctx.now - last < PENDING_POLL:
        return None
    device = filevault.orm_device(ctx, device)
    if filevault.waiting(ctx, device.id, ("SecurityInfo", "RestartDevice", VERIFY), after_success=False):
        return None
    return queue.add_command(ctx.s, ctx.secrets, device.id, "SecurityInfo", {})


def promote(ctx, device: EnrolledDevice, new_password: str) -> None:
    ctx.secrets.seal(device, "recovery_password", new_password or None)
    device.recovery_password_updated_at = ctx.now if new_password else None
    ctx.secrets.seal(device, "pending_recovery_password", None)
    device.pending_recovery_password_at = None


def firmware_status(ctx, device: EnrolledDevice, status) -> None:
    """SecurityInfo's FirmwarePasswordStatus: a pending firmware password in effect is promoted."""
    if not isinstance(status, dict) or device.pending_recovery_password_at is None:
        return
    if status.get("PasswordExists") is True and status.get("ChangePending") is False:
        pending = ctx.secrets.open_str(device, "pending_recovery_password") or ""
        if not pending:  # a pending clear: in effect, nothing to verify
            promote(ctx, device, "")
            return
        queue.add_command(ctx.s, ctx.secrets, device.id, VERIFY, {"Password": pending})
        log.info("device %s: the new firmware password is in effect; verifying it", device.udid)


def verified(ctx, device: EnrolledDevice, password: str, ok: bool) -> None:
    """VerifyFirmwarePassword's answer for the pending password: promoted when the Mac has it;
    otherwise dropped, the stored one kept (the change did not take)."""
    if device.pending_recovery_password_at is None or password != (
            ctx.secrets.open_str(device, "pending_recovery_password") or ""):
        return  # about a password no longer pending
    if ok:
        promote(ctx, device, password)
        log.info("device %s: the new firmware password is verified and stored", device.udid)
        return
    ctx.secrets.seal(device, "pending_recovery_password", None)
    device.pending_recovery_password_at = None
    log.warning("device %s: the Mac does not have the new firmware password; the stored one is kept", device.udid)
