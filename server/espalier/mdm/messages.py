"""Device messages: plists parsed defensively, then decoded once into typed objects.

Bodies are untrusted. plistlib refuses XML entity declarations; a binary plist whose
objects share references (a DAG that is exponentially large as a tree, or a cycle) is
refused by a walk with a budget on the nodes it visits, not only on depth; strings with
NUL characters are refused (no Apple message has them, and PostgreSQL cannot store
them). Each check-in MessageType and each command report is then decoded into a frozen
dataclass (types and lengths checked here), so the protocol core never reads raw dicts.
Apple's reference: https://developer.apple.com/documentation/devicemanagement/check-in
"""
from __future__ import annotations

import plistlib
from dataclasses import dataclass, field
from typing import Any

from .errors import ParseError

MAX_DEPTH = 32
MAX_NODES = 200_000  # objects visited in one message, shared references counted each time
REPORT_STATUSES = ("Idle", "Acknowledged", "Error", "CommandFormatError", "NotNow")


# -- parsing -------------------------------------------------------------------------------

def parse_plist(body: bytes) -> dict[str, Any]:
    if not body:
        raise ParseError("empty body")
    try:
        value = plistlib.loads(body)
    except Exception as exc:  # plistlib raises many types on hostile input
        raise ParseError(f"malformed plist ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise ParseError("the plist must be a dictionary")
    _check_shape(value)
    return value


def _check_shape(root: dict) -> None:
    """Depth, total size (as a tree) and string contents, without recursion."""
    budget = MAX_NODES
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        value, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise ParseError("plist too large as a tree (shared references?)")
        if depth > MAX_DEPTH:
            raise ParseError("plist nested too deeply")
        if isinstance(value, dict):
            for k, v in value.items():
                if not isinstance(k, str):
                    raise ParseError("plist keys must be strings")
                if "\x00" in k:
                    raise ParseError("plist strings must not contain NUL")
                stack.append((v, depth + 1))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str) and "\x00" in value:
            raise ParseError("plist strings must not contain NUL")


def dump(value: dict[str, Any]) -> bytes:
    return plistlib.dumps(value, fmt=plistlib.FMT_XML)


# -- field readers -------------------------------------------------------------------------

def str_value(msg: dict, key: str, limit: int = 256) -> str | None:
    """An optional string ("" reads as absent)."""
    value = msg.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ParseError(f"{key} must be a string of at most {limit} characters")
    return value


def bytes_value(msg: dict, key: str, limit: int = 64 * 1024) -> bytes | None:
    value = msg.get(key)
    if value is None:
        return None
    if not isinstance(value, bytes) or len(value) > limit:
        raise ParseError(f"{key} must be data of at most {limit} bytes")
    return value


def bool_value(msg: dict, key: str) -> bool | None:
    value = msg.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ParseError(f"{key} must be a boolean")
    return value


def _id_value(msg: dict, key: str) -> str | None:
    value = msg.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 64:
        raise ParseError(f"{key} must be a non-empty string of at most 64 characters")
    return value


# -- channels ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Channel:
    """Who a message is about: the device (udid) and, for user channels, the user id."""

    udid: str
    user_id: str | None = None
    user_enrollment: bool = False

    @property
    def enrollment_id(self) -> str:
        """The normalised id used everywhere: ``device`` or ``device:user``."""
        return enrollment_id(self.udid, self.user_id)


def enrollment_id(udid: str, user_id: str | None = None) -> str:
    return f"{udid}:{user_id}" if user_id else udid


def channel_of(msg: dict) -> Channel:
    """The channel a check-in or connect message speaks for. User enrollments use EnrollmentID."""
    udid = _id_value(msg, "UDID")
    user_enrollment = False
    if udid is None:
        udid = _id_value(msg, "EnrollmentID")
        user_enrollment = udid is not None
    if udid is None:
        raise ParseError("missing UDID (or EnrollmentID)")
    user_id = _id_value(msg, "UserID") or _id_value(msg, "EnrollmentUserID")
    return Channel(udid=udid, user_id=user_id, user_enrollment=user_enrollment)


# -- check-in messages ---------------------------------------------------------------------

@dataclass(frozen=True)
class Authenticate:
    channel: Channel
    topic: str | None
    serial_number: str | None
    os_version: str | None
    build_version: str | None
    product_name: str | None
    device_name: str | None
    model: str | None
    model_name: str | None

    @classmethod
    def decode(cls, msg: dict, channel: Channel) -> Authenticate:
        if channel.user_id:
            raise ParseError("Authenticate is sent on the device channel")
        return cls(channel, str_value(msg, "Topic"), str_value(msg, "SerialNumber", 64),
                   str_value(msg, "OSVersion", 32), str_value(msg, "BuildVersion", 32),
                   str_value(msg, "ProductName", 64), str_value(msg, "DeviceName", 256),
                   str_value(msg, "Model", 64), str_value(msg, "ModelName", 128))


@dataclass(frozen=True)
class TokenUpdate:
    channel: Channel
    topic: str | None
    token: bytes
    push_magic: str
    unlock_token: bytes | None
    awaiting_configuration: bool | None
    user_short_name: str | None
    user_long_name: str | None

    @classmethod
    def decode(cls, msg: dict, channel: Channel) -> TokenUpdate:
        token, magic = bytes_value(msg, "Token", 1024), str_value(msg, "PushMagic", 256)
        if not token or not magic:
            raise ParseError("TokenUpdate needs Token and PushMagic")
        return cls(channel, str_value(msg, "Topic"), token, magic, bytes_value(msg, "UnlockToken", 64 * 1024),
                   bool_value(msg, "AwaitingConfiguration"), str_value(msg, "UserShortName"),
                   str_value(msg, "UserLongName"))


@dataclass(frozen=True)
class CheckOut:
    channel: Channel

    @classmethod
    def decode(cls, msg: dict, channel: Channel) -> CheckOut:
        return cls(channel)


@dataclass(frozen=True)
class SetBootstrapToken:
    channel: Channel
    bootstrap_token: bytes | None  # absent or empty: delete the escrowed one
    awaiting_configuration: bool | None

    @classmethod
    def decode(cls, msg: dict, channel: Channel) -> SetBootstrapToken:
        return cls(channel, bytes_value(msg, "BootstrapToken", 64 * 1024), bool_value(msg, "AwaitingConfiguration"))


@dataclass(frozen=True)
class GetBootstrapToken:
    channel: Channel
    awaiting_configuration: bool | None

    @classmethod
    def decode(cls, msg: dict, channel: Channel) -> GetBootstrapToken:
        return cls(channel, bool_value(msg, "AwaitingConfiguration"))


@dataclass(frozen=True)
class UserAuthenticate:
    channel: Channel
    digest_response: str | None

    @classmethod
    def decode(cls, msg: dict, channel: Channel) -> UserAuthenticate:
        return cls(channel, str_value(msg, "DigestResponse", 4096))


@dataclass(frozen=True)
class DeclarativeManagement:
    """A DDM request: ``Endpoint`` (tokens, declaration-items, declaration/..., status) and, for
    status reports, ``Data`` holding JSON (decoded here, bounded like the plist)."""

    channel: Channel
    endpoint: str
    data: dict[str, Any] | None

    @classmethod
    def decode(cls, msg: dict, channel: Channel) -> DeclarativeManagement:
        import json

        endpoint = str_value(msg, "Endpoint", 512)
        if endpoint is None:
            raise ParseError("DeclarativeManagement needs an Endpoint")
        raw = bytes_value(msg, "Data", 4 * 1024 * 1024)
        data = None
        if raw:
            try:
                data = json.loads(raw)
            except ValueError:
                raise ParseError("DeclarativeManagement Data is not JSON") from None
            if not isinstance(data, dict):
                raise ParseError("DeclarativeManagement Data must be a JSON object")
            _check_shape(data)
        return cls(channel, endpoint, data)


CHECKIN_TYPES: dict[str, type] = {cls.__name__: cls for cls in (
    Authenticate, TokenUpdate, CheckOut, SetBootstrapToken, GetBootstrapToken, UserAuthenticate,
    DeclarativeManagement)}
CheckinMessage = (Authenticate | TokenUpdate | CheckOut | SetBootstrapToken | GetBootstrapToken | UserAuthenticate
                  | DeclarativeManagement)


def decode_checkin(msg: dict) -> CheckinMessage:
    message_type = msg.get("MessageType")
    cls = CHECKIN_TYPES.get(message_type) if isinstance(message_type, str) else None
    if cls is None:
        raise ParseError(f"unsupported MessageType {str(message_type)[:64]!r}")
    return cls.decode(msg, channel_of(msg))


# -- command reports -----------------------------------------------------------------------

_REPORT_KEYS = {"UDID", "EnrollmentID", "UserID", "EnrollmentUserID", "Status", "CommandUUID", "ErrorChain",
                "UserShortName", "UserLongName"}
_ERROR_KEYS = ("ErrorCode", "ErrorDomain", "LocalizedDescription", "USEnglishDescription")


@dataclass(frozen=True)
class Report:
    """A connect request: the status of the previous command (or Idle) and its result keys."""

    channel: Channel
    status: str
    command_uuid: str | None
    error_chain: list[dict] | None
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def is_idle(self) -> bool:
        return self.status == "Idle"


def _error_chain(value: Any) -> list[dict] | None:
    if not isinstance(value, list):
        return None
    return [{k: item[k] for k in _ERROR_KEYS if isinstance(item.get(k), (int, str)) and not isinstance(item[k], bool)}
            for item in value[:20] if isinstance(item, dict)]


def decode_report(msg: dict) -> Report:
    status = msg.get("Status")
    if status not in REPORT_STATUSES:
        raise ParseError(f"unknown Status {str(status)[:32]!r}")
    uuid = str_value(msg, "CommandUUID", 64)
    if status != "Idle" and uuid is None:
        raise ParseError(f"a {status} report needs a CommandUUID")
    return Report(channel_of(msg), status, uuid, _error_chain(msg.get("ErrorChain")),
                  {k: v for k, v in msg.items() if k not in _REPORT_KEYS})


def decode(msg: dict) -> CheckinMessage | Report:
    """Check-ins carry a MessageType; command reports do not (they may share one URL)."""
    return decode_checkin(msg) if "MessageType" in msg else decode_report(msg)
