"""RestartDevice, ShutDownDevice and DeviceConfigured: no result beyond the status.

https://developer.apple.com/documentation/devicemanagement/restart-device-command
https://developer.apple.com/documentation/devicemanagement/shut-down-device-command
https://developer.apple.com/documentation/devicemanagement/device-configured-command
"""
from __future__ import annotations

from .base import Command, CommandArgumentError, reject_unknown


class RestartDevice(Command):
    request_type = "RestartDevice"
    platforms = ("macOS", "iOS", "iPadOS", "tvOS", "visionOS")
    keep_result = False

    @classmethod
    def validate(cls, device, data):
        cls.check_target(device)
        errors: dict[str, list[str]] = {}
        reject_unknown(data, {"notify_user"}, errors)
        args = {}
        if "notify_user" in data:
            if device.platform != "macOS":
                errors.setdefault("notify_user", []).append("only on macOS")
            elif not isinstance(data["notify_user"], bool):
                errors.setdefault("notify_user", []).append("must be a boolean")
            else:
                args["NotifyUser"] = data["notify_user"]
        if errors:
            raise CommandArgumentError(errors)
        return args


class ShutDownDevice(Command):
    request_type = "ShutDownDevice"
    platforms = ("macOS", "iOS", "iPadOS")
    keep_result = False


class DeviceConfigured(Command):
    """Ends Setup Assistant's Await Configuration."""

    request_type = "DeviceConfigured"
    keep_result = False

    @classmethod
    def process_result(cls, ctx, device, command, report):
        device.awaiting_configuration = False
        return None
