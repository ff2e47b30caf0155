"""InstallProfile and RemoveProfile.

https://developer.apple.com/documentation/devicemanagement/install-profile-command
https://developer.apple.com/documentation/devicemanagement/remove-profile-command

A profile an operator hands in is inspected before it is queued: it must be a plist or a
signed plist we can read (an encrypted one cannot be checked), and it must not carry the
payloads that escrow FileVault keys: those are made by the server only, with its own
escrow certificate, or an operator could have a Mac send its recovery key to a key of
theirs.
"""
from __future__ import annotations

import base64
import binascii
import plistlib
from typing import Any

from espalier.pki import cms

from .base import Command, CommandArgumentError, reject_unknown

MAX_PROFILE = 2 * 1024 * 1024
ESCROW_PAYLOADS = frozenset({"com.apple.security.FDERecoveryKeyEscrow", "com.apple.security.FDERecoveryRedirect"})
_FILEVAULT = "com.apple.MCX.FileVault2"
_FILEVAULT_ESCROW_KEYS = ("Certificate", "OutputPath", "UseRecoveryKey", "UseKeychain")


def read_profile(payload: bytes) -> dict[str, Any] | None:
    """The profile's plist, from a plain or a CMS-signed profile; None when unreadable."""
    if payload[:1] == b"0":  # DER: a signed profile
        try:
            payload = cms.encapsulated_content(cms.load_signed_data(payload)) or b""
        except cms.CMSError:
            return None
    try:
        value = plistlib.loads(payload)
    except Exception:
        return None
    return value if isinstance(value, dict) else None


def escrow_payload_types(profile: dict[str, Any]) -> list[str]:
    """The FileVault escrow payloads a profile carries (nested or not)."""
    found = []
    stack = [profile]
    while stack and len(found) < 10:
        item = stack.pop()
        if not isinstance(item, dict):
            continue
        kind = item.get("PayloadType")
        if kind in ESCROW_PAYLOADS or (kind == _FILEVAULT and any(k in item for k in _FILEVAULT_ESCROW_KEYS)):
            found.append(str(kind))
        content = item.get("PayloadContent")
        if isinstance(content, list):
            stack.extend(content)
        elif isinstance(content, dict):
            stack.append(content)
    return found


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
            elif payload:
                cls._inspect(payload, errors)
        if errors:
            raise CommandArgumentError(errors)
        return {"Payload": raw}

    @staticmethod
    def _inspect(payload: bytes, errors: dict[str, list[str]]) -> None:
        profile = read_profile(payload)
        if profile is None or not isinstance(profile.get("PayloadIdentifier"), str):
            errors.setdefault("payload", []).append("not a configuration profile")
        elif "EncryptedPayloadContent" in profile:
            errors.setdefault("payload", []).append("encrypted profiles cannot be checked and are refused")
        elif escrowing := escrow_payload_types(profile):
            errors.setdefault("payload", []).append(
                f"FileVault escrow payloads ({', '.join(sorted(set(escrowing)))}) are made by the server only")

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
