"""SetupFileVault and RemoveFileVault: the FileVault profile as InstallProfile and RemoveProfile.

https://developer.apple.com/documentation/devicemanagement/install-profile-command
https://developer.apple.com/documentation/devicemanagement/remove-profile-command

Stored under their own names (Zentral's ``SetupFileVault``) so that their results move the
device's FileVault state and nothing else; the profile is made by ``mdm/filevault.py``.
"""
from __future__ import annotations

import base64

from espalier.mdm import queue

from .server_only import ServerOnlyCommand


class SetupFileVault(ServerOnlyCommand):
    request_type = "SetupFileVault"
    platforms = ("macOS",)

    @classmethod
    def payload(cls, device, arguments):
        return {"RequestType": "InstallProfile", "Payload": base64.b64decode(arguments["Payload"])}

    @classmethod
    def process_result(cls, ctx, device, command, report):
        """The profile is on: record which one, and ask for the PRK (FileVault may be on already)."""
        from espalier.mdm import filevault

        device.filevault_profile_token = queue.command_arguments(ctx.secrets, command)["Token"]
        last = filevault.last_command(ctx, device.id, ("SecurityInfo",))
        if not device.filevault_prk and (last is None or not last.is_pending):
            queue.add_command(ctx.s, ctx.secrets, device.id, "SecurityInfo", {})
        return None


class RemoveFileVault(ServerOnlyCommand):
    request_type = "RemoveFileVault"
    platforms = ("macOS",)

    @classmethod
    def payload(cls, device, arguments):
        return {"RequestType": "RemoveProfile", "Identifier": arguments["Identifier"]}

    @classmethod
    def process_result(cls, ctx, device, command, report):
        device.filevault_profile_token = None
        return None
