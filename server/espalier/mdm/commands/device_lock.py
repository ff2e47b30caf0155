"""DeviceLock: https://developer.apple.com/documentation/devicemanagement/device-lock-command

``pin`` (6 digits) is required on macOS and refused elsewhere; ``message`` (<= 255)
and ``phone_number`` (<= 15) are optional.
"""
from __future__ import annotations

from .base import Command, CommandArgumentError, is_pin, reject_unknown


class DeviceLock(Command):
    request_type = "DeviceLock"
    platforms = ("macOS", "iOS", "iPadOS", "visionOS", "watchOS")
    allowed_on_user_enrollment = False

    @classmethod
    def validate(cls, device, data):
        cls.check_target(device)
        errors: dict[str, list[str]] = {}
        reject_unknown(data, {"pin", "message", "phone_number"}, errors)
        args: dict = {}
        pin = data.get("pin")
        if device.platform == "macOS":
            if pin is None:
                errors.setdefault("pin", []).append("required on macOS (6 digits)")
            elif not is_pin(pin):
                errors.setdefault("pin", []).append("must be 6 digits")
            else:
                args["PIN"] = pin
        elif pin is not None:
            errors.setdefault("pin", []).append(f"cannot be set on {device.platform}")
        for field, key, limit in (("message", "Message", 255), ("phone_number", "PhoneNumber", 15)):
            value = data.get(field)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                errors.setdefault(field, []).append("must be a string")
            elif len(value) > limit:
                errors.setdefault(field, []).append(f"at most {limit} characters")
            else:
                args[key] = value
        if errors:
            raise CommandArgumentError(errors)
        return args
