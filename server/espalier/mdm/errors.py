"""Typed protocol errors. The device view maps each to a status in one place.

Authentication failures answer 400, not 401: a 401 can make a device unenroll. The
deliberate "unenroll now" is ``Unrecognized`` (403 ``com.apple.unrecognized.device``).
"""
from __future__ import annotations


class MDMError(Exception):
    status = 400

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ParseError(MDMError):
    """The body is not a plist message we can read."""


class IdentityError(MDMError):
    """No usable, trusted or matching device certificate."""


class Unrecognized(MDMError):
    """The device must unenroll (blocked, or unknown to us)."""

    status = 403


class Declined(MDMError):
    """The server declines the request (e.g. UserAuthenticate without user channels)."""

    status = 410


class PayloadTooLarge(MDMError):
    status = 413


class NotFound(MDMError):
    """What the device asked for does not exist (a DDM declaration or endpoint)."""

    status = 404
