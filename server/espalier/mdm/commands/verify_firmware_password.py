"""VerifyFirmwarePassword: https://developer.apple.com/documentation/devicemanagement/verify-firmware-password-command

Intel Macs. Once SecurityInfo shows a pending firmware password in effect, the server asks
the Mac to verify it before storing it as the device's password: ``PasswordVerified`` true
promotes it; false means the Mac holds another one (the change did not take), so the pending
one is dropped and the stored password stays as it was.
"""
from __future__ import annotations

import logging

from espalier.mdm import queue, recovery_password

from .server_only import ServerOnlyCommand

log = logging.getLogger(__name__)


class VerifyFirmwarePassword(ServerOnlyCommand):
    request_type = "VerifyFirmwarePassword"
    platforms = ("macOS",)

    @classmethod
    def process_result(cls, ctx, device, command, report):
        verified = report.get("PasswordVerified")
        if not isinstance(verified, bool):
            raise ValueError("VerifyFirmwarePassword: PasswordVerified missing or not a boolean")
        password = queue.command_arguments(ctx.secrets, command).get("Password") or ""
        recovery_password.verified(ctx, device, password, verified)
        return None
