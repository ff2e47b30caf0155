"""DeviceLock: https://developer.apple.com/documentation/devicemanagement/device-lock-command

As Zentral: ``pin`` (6 digits) is for macOS, where it is required unless the Mac reported
``PINRequiredForDeviceLock`` false, and is ignored elsewhere; ``message`` (<= 255) and
``phone_number`` (<= 15; numbers are read as text) are optional. Not for user-enrolled Macs.
Zentral's PIN rule matches anywhere in the value ("0123456" passes); ours is the whole value.
"""
from __future__ import annotations

from espalier.validation import Schema, char

from .base import Command

PIN = "[0-9]{6}"


class _Display(Schema):
    message: char(255) | None = None
    phone_number: char(15) | None = None


class LockArguments(_Display):
    """A mobile device (or anything but macOS): what the lock screen shows."""


class MacLockArguments(_Display):
    pin: char(pattern=PIN)


class MacLockOptionalPin(_Display):
    pin: char(pattern=PIN) | None = None


def pin_required(device) -> bool:
    """What the device reported (PINRequiredForDeviceLock), else Zentral's rule: every Mac."""
    if device.platform != "macOS":
        return False
    return device.pin_required_for_lock is not False


class DeviceLock(Command):
    request_type = "DeviceLock"

    @classmethod
    def verify_target(cls, device) -> bool:
        return not device.user_enrollment or device.is_mobile

    @classmethod
    def arguments_model(cls, device):
        if device.platform != "macOS":
            return LockArguments
        return MacLockArguments if pin_required(device) else MacLockOptionalPin

    @classmethod
    def documented_models(cls):
        return [MacLockArguments, LockArguments]

    @classmethod
    def build(cls, device, args):
        out = {}
        if args.message:
            out["Message"] = args.message
        if args.phone_number:
            out["PhoneNumber"] = args.phone_number
        if getattr(args, "pin", None):
            out["PIN"] = args.pin
        return out
