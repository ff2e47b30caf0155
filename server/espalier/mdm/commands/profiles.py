"""InstallProfile and RemoveProfile.

https://developer.apple.com/documentation/devicemanagement/install-profile-command
https://developer.apple.com/documentation/devicemanagement/remove-profile-command
"""
from __future__ import annotations

import base64
import binascii
import plistlib

from .base import Command, CommandArgumentError, reject_unknown

MAX_PROFILE = 2 * 1024 * 1024


def _profile_identifier(payload: bytes) -> str | None:
    """PayloadIdentifier of an unsigned profile (signed ones are checked by the device)."""
    try:
        value = plistlib.loads(payload)
    except Exception:
        return None
    return value.get("PayloadIdentifier") if isinstance(value, dict) else None


class InstallProfile(Command):
    request_type = "InstallProfile"

    @classmethod
    def validate(cls, device, data):
        cls.check_target(device)
        errors: dict[str, list[str]] = {}
        reject_unknown(data, {"payload"}, errors)
        raw = data.get("payload")
        payload = b""
        if not isinstance(raw, str) or not raw:
            errors.setdefault("payload", []).append("required: the profile, base64 encoded")
        else:
            try:
                payload = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                errors.setdefault("payload", []).append("must be base64")
            if len(payload) > MAX_PROFILE:
                errors.setdefault("payload", []).append(f"at most {MAX_PROFILE} bytes")
            elif payload and not payload.startswith(b"0") and _profile_identifier(payload) is None:
                # not DER (signed profiles start with a SEQUENCE, 0x30 = "0") and not a plist with an identifier
                errors.setdefault("payload", []).append("not a configuration profile")
        if errors:
            raise CommandArgumentError(errors)
        return {"Payload": raw}

    @classmethod
    def payload(cls, device, arguments):
        return {"RequestType": cls.request_type, "Payload": base64.b64decode(arguments["Payload"])}


class RemoveProfile(Command):
    request_type = "RemoveProfile"

    @classmethod
    def validate(cls, device, data):
        cls.check_target(device)
        errors: dict[str, list[str]] = {}
        reject_unknown(data, {"identifier"}, errors)
        ident = data.get("identifier")
        if not isinstance(ident, str) or not ident or len(ident) > 256:
            errors.setdefault("identifier", []).append("required: the profile's PayloadIdentifier")
        if errors:
            raise CommandArgumentError(errors)
        return {"Identifier": ident}
