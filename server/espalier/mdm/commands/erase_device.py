"""EraseDevice: https://developer.apple.com/documentation/devicemanagement/erase-device-command

Rules (as Zentral's): iOS/iPadOS need both booleans and take no PIN; an Intel Mac that
needs a PIN (no T2, or PINRequiredForEraseDevice reported true) needs a 6-digit PIN;
Apple silicon and T2 Macs take no arguments. An acknowledged erase releases the device:
it comes back as a new enrollment with no MDM profile to check out with.
"""
from __future__ import annotations

from .base import Command, CommandArgumentError, is_pin, reject_unknown

_MOBILE_FLAGS = (("disallow_proximity_setup", "DisallowProximitySetup"), ("preserve_data_plan", "PreserveDataPlan"))


def mac_needs_pin(device) -> bool:
    if device.apple_silicon:
        return False
    # Unknown means not yet inventoried: ask for a PIN, which is the safe side.
    return device.pin_required_for_erase is not False


def _mobile(device, data: dict, errors: dict[str, list[str]]) -> dict:
    args = {}
    for field, key in _MOBILE_FLAGS:
        if field not in data or data[field] is None:
            errors.setdefault(field, []).append(f"required on {device.platform}")
        elif not isinstance(data[field], bool):
            errors.setdefault(field, []).append("must be a boolean")
        else:
            args[key] = data[field]
    if data.get("pin") is not None:
        errors.setdefault("pin", []).append(f"cannot be set on {device.platform}")
    return args


def _mac(device, data: dict, errors: dict[str, list[str]]) -> dict:
    for field, _ in _MOBILE_FLAGS:
        if data.get(field) is not None:
            errors.setdefault(field, []).append("only for iOS and iPadOS")
    pin = data.get("pin")
    if not mac_needs_pin(device):
        if pin is not None:
            errors.setdefault("pin", []).append("cannot be set on an Apple silicon or T2 Mac")
        return {}
    if pin is None:
        errors.setdefault("pin", []).append("required on this Mac (6 digits)")
    elif not is_pin(pin):
        errors.setdefault("pin", []).append("must be 6 digits")
    else:
        return {"PIN": pin}
    return {}


class EraseDevice(Command):
    request_type = "EraseDevice"
    platforms = ("macOS", "iOS", "iPadOS", "tvOS", "visionOS", "watchOS")
    allowed_on_user_enrollment = False
    keep_result = False

    @classmethod
    def validate(cls, device, data):
        cls.check_target(device)
        errors: dict[str, list[str]] = {}
        if device.is_mobile or device.platform == "macOS":
            reject_unknown(data, {"disallow_proximity_setup", "preserve_data_plan", "pin"}, errors)
            args = (_mobile if device.is_mobile else _mac)(device, data, errors)
        else:
            args = {}
            for key, value in data.items():
                if value is not None:
                    errors.setdefault(key, []).append(f"not applicable on {device.platform}")
        if errors:
            raise CommandArgumentError(errors)
        return args

    @classmethod
    def process_result(cls, ctx, device, command, report):
        device.released_at = device.released_at or ctx.now
        return None
