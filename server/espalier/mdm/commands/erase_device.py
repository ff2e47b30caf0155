"""EraseDevice: https://developer.apple.com/documentation/devicemanagement/erase-device-command

As Zentral: iOS/iPadOS need both booleans (DRF booleans: ``true``, ``"yes"``, ``1``...); a
Mac that needs a PIN needs a 6-character one; fields that do not apply are ignored. Whether
a Mac needs one: what it reported (``PINRequiredForEraseDevice``), else Zentral's rule
(macOS, not Apple silicon, not Activation Lock manageable, i.e. no T2). An acknowledged
erase releases the device: it comes back as a new enrollment with no profile to check out.
"""
from __future__ import annotations

from espalier.validation import Bool, Schema, char

from .base import Command

PIN = "[a-zA-Z0-9]{6}"


class MobileEraseArguments(Schema):
    disallow_proximity_setup: Bool
    preserve_data_plan: Bool


class MacEraseArguments(Schema):
    pin: char(pattern=PIN)


def pin_required(device) -> bool:
    if device.platform != "macOS":
        return False
    if device.pin_required_for_erase is not None:
        return device.pin_required_for_erase
    return not device.apple_silicon and not device.activation_lock_manageable


class EraseDevice(Command):
    request_type = "EraseDevice"
    keep_result = False

    @classmethod
    def arguments_model(cls, device):
        if device.is_mobile:
            return MobileEraseArguments
        return MacEraseArguments if pin_required(device) else None

    @classmethod
    def documented_models(cls):
        return [MobileEraseArguments, MacEraseArguments]

    @classmethod
    def build(cls, device, args):
        if isinstance(args, MobileEraseArguments):
            return {"DisallowProximitySetup": args.disallow_proximity_setup, "PreserveDataPlan": args.preserve_data_plan}
        if isinstance(args, MacEraseArguments):
            return {"PIN": args.pin}
        return {}

    @classmethod
    def process_result(cls, ctx, device, command, report):
        device.released_at = device.released_at or ctx.now
        return None
