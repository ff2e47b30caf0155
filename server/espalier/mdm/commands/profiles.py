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
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from espalier.pki import cms
from espalier.validation import Schema, char

from .base import Command

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


def _profile(value):
    """The profile, base64: decoded and inspected (a readable, non-escrowing profile)."""
    if value is None:
        _fail("This field may not be null.")
    if not isinstance(value, str) or not value.strip():
        _fail("This field may not be blank." if isinstance(value, str) else "Not a valid string.")
    try:
        payload = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        _fail("Must be base64.")
    if len(payload) > MAX_PROFILE:
        _fail(f"Ensure this profile has no more than {MAX_PROFILE} bytes.")
    profile = read_profile(payload)
    if profile is None or not isinstance(profile.get("PayloadIdentifier"), str):
        _fail("Not a configuration profile.")
    if "EncryptedPayloadContent" in profile:
        _fail("Encrypted profiles cannot be checked and are refused.")
    if escrowing := escrow_payload_types(profile):
        _fail(f"FileVault escrow payloads ({', '.join(sorted(set(escrowing)))}) are made by the server only.")
    return value


def _fail(message: str):
    raise PydanticCustomError("drf", message)


class InstallProfileArguments(Schema):
    payload: Annotated[str, BeforeValidator(_profile), WithJsonSchema({"type": "string", "contentEncoding": "base64"})]


class RemoveProfileArguments(Schema):
    identifier: char(256)


class InstallProfile(Command):
    request_type = "InstallProfile"
    Arguments = InstallProfileArguments

    @classmethod
    def build(cls, device, args):
        return {"Payload": args.payload}

    @classmethod
    def payload(cls, device, arguments):
        return {"RequestType": cls.request_type, "Payload": base64.b64decode(arguments["Payload"])}


class RemoveProfile(Command):
    request_type = "RemoveProfile"
    Arguments = RemoveProfileArguments

    @classmethod
    def build(cls, device, args):
        return {"Identifier": args.identifier}
