"""Reading device messages: plists parsed defensively, identity keys normalised.

Bodies are untrusted. plistlib refuses XML entity declarations; binary plists are
bounded by size before parsing and any failure (including RecursionError from a
self-referencing binary plist) becomes a ParseError. Deep nesting is refused after
parsing, so no later code walks a hostile structure.
"""
from __future__ import annotations

import plistlib
from dataclasses import dataclass
from typing import Any

from .errors import ParseError

MAX_DEPTH = 32
SHARED_IPAD_USER = "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"


def parse_plist(body: bytes) -> dict[str, Any]:
    if not body:
        raise ParseError("empty body")
    try:
        value = plistlib.loads(body)
    except Exception as exc:  # plistlib raises many types on hostile input
        raise ParseError(f"malformed plist ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise ParseError("the plist must be a dictionary")
    _check_depth(value, 0)
    return value


def _check_depth(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ParseError("plist nested too deeply")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ParseError("plist keys must be strings")
            _check_depth(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_depth(v, depth + 1)


def _str(msg: dict, key: str, limit: int = 256) -> str | None:
    value = msg.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ParseError(f"{key} must be a non-empty string of at most {limit} characters")
    return value


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
    udid = _str(msg, "UDID", 64)
    user_enrollment = False
    if udid is None:
        udid = _str(msg, "EnrollmentID", 64)
        user_enrollment = udid is not None
    if udid is None:
        raise ParseError("missing UDID (or EnrollmentID)")
    user_id = _str(msg, "UserID", 64) or _str(msg, "EnrollmentUserID", 64)
    return Channel(udid=udid, user_id=user_id, user_enrollment=user_enrollment)


def bytes_value(msg: dict, key: str, limit: int = 64 * 1024) -> bytes | None:
    value = msg.get(key)
    if value is None:
        return None
    if not isinstance(value, bytes) or len(value) > limit:
        raise ParseError(f"{key} must be data of at most {limit} bytes")
    return value


def str_value(msg: dict, key: str, limit: int = 256) -> str | None:
    value = msg.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ParseError(f"{key} must be a string of at most {limit} characters")
    return value


def bool_value(msg: dict, key: str) -> bool | None:
    value = msg.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ParseError(f"{key} must be a boolean")
    return value


def dump(value: dict[str, Any]) -> bytes:
    return plistlib.dumps(value, fmt=plistlib.FMT_XML)
