"""SetFirmwarePassword: https://developer.apple.com/documentation/devicemanagement/set-firmware-password-command

Intel Macs. The new password applies at the next restart: acknowledged with
``PasswordChanged``, it is kept pending (sealed) and a RestartDevice with NotifyUser is
queued; a later SecurityInfo promotes it (``mdm/recovery_password.firmware_status``).
"""
from __future__ import annotations

import logging

from espalier.mdm import queue

from .server_only import ServerOnlyCommand

log = logging.getLogger(__name__)


class SetFirmwarePassword(ServerOnlyCommand):
    request_type = "SetFirmwarePassword"
    platforms = ("macOS",)

    @classmethod
    def process_result(cls, ctx, device, command, report):
        result = report.get("SetFirmwarePassword")
        if not isinstance(result, dict) or result.get("PasswordChanged") is not True:
            log.warning("device %s: SetFirmwarePassword acknowledged but the password was not changed", device.udid)
            return None
        ctx.secrets.seal(device, "pending_recovery_password",
                         queue.command_arguments(ctx.secrets, command).get("NewPassword") or None)
        device.pending_recovery_password_at = ctx.now
        queue.add_command(ctx.s, ctx.secrets, device.id, "RestartDevice", {"NotifyUser": True})
        return None
