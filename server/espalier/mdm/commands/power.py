"""RestartDevice, ShutDownDevice and DeviceConfigured: no result beyond the status.

https://developer.apple.com/documentation/devicemanagement/restart-device-command
https://developer.apple.com/documentation/devicemanagement/shut-down-device-command
https://developer.apple.com/documentation/devicemanagement/device-configured-command
"""
from __future__ import annotations

from espalier.validation import Bool, Schema

from .base import Command


class RestartArguments(Schema):
    notify_user: Bool | None = None  # macOS 11+; ignored elsewhere


class RestartDevice(Command):
    request_type = "RestartDevice"
    platforms = ("macOS", "iOS", "iPadOS", "tvOS", "visionOS")
    keep_result = False
    Arguments = RestartArguments

    @classmethod
    def build(cls, device, args):
        return {"NotifyUser": args.notify_user} if args.notify_user is not None and device.platform == "macOS" else {}


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
