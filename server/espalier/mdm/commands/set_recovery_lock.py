"""SetRecoveryLock: https://developer.apple.com/documentation/devicemanagement/set-recovery-lock-command

Apple silicon Macs. Acknowledged: the new password (sealed in the command's arguments until
then) becomes the device's ``recovery_password``. An Error changes nothing.
"""
from __future__ import annotations

from espalier.mdm import queue

from .server_only import ServerOnlyCommand


class SetRecoveryLock(ServerOnlyCommand):
    request_type = "SetRecoveryLock"
    platforms = ("macOS",)

    @classmethod
    def process_result(cls, ctx, device, command, report):
        from espalier.mdm import recovery_password

        recovery_password.promote(ctx, device, queue.command_arguments(ctx.secrets, command).get("NewPassword", ""))
        return None
