"""What every command module provides: argument rules per platform, payload, result handling.

A module declares one ``Command`` subclass named after the RequestType. Operators' input
arrives as snake_case API fields (``validate``); the device gets Apple's keys (``payload``);
the device's answer is folded into the device row or kept (``process_result``).
"""
from __future__ import annotations

from typing import Any, ClassVar


class CommandArgumentError(Exception):
    """Bad arguments for a command, per API field: ``{field: [message, ...]}``."""

    def __init__(self, errors: dict[str, list[str]], detail: str | None = None):
        self.errors = errors
        self.detail = detail or "invalid arguments: " + "; ".join(
            f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
        super().__init__(self.detail)


class Command:
    request_type: ClassVar[str]
    #: platforms the command applies to; None = every platform
    platforms: ClassVar[tuple[str, ...] | None] = None
    #: user-enrolled (BYOD) devices refuse some commands
    allowed_on_user_enrollment: ClassVar[bool] = True
    #: keep the raw answer in device_commands.result (inventory is folded into the device instead)
    keep_result: ClassVar[bool] = True

    @classmethod
    def check_target(cls, device) -> None:
        if cls.platforms is not None and device.platform not in cls.platforms:
            raise CommandArgumentError(
                {"platform": [f"{cls.request_type} is not available on {device.platform or 'an unknown platform'}"]})
        if device.user_enrollment and not cls.allowed_on_user_enrollment:
            raise CommandArgumentError({"device": [f"{cls.request_type} is not available on user enrollments"]})

    @classmethod
    def validate(cls, device, data: dict[str, Any]) -> dict[str, Any]:
        """Check operator input for ``device``; return the stored arguments. Default: none allowed."""
        cls.check_target(device)
        if data:
            raise CommandArgumentError({k: ["unknown argument"] for k in data})
        return {}

    @classmethod
    def payload(cls, device, arguments: dict[str, Any]) -> dict[str, Any]:
        """The ``Command`` dictionary sent to the device."""
        return {"RequestType": cls.request_type, **arguments}

    @classmethod
    def process_result(cls, ctx, device, command, report: dict[str, Any]) -> Any:
        """Handle an Acknowledged report (``ctx``: mdm.context.Context); return what to store."""
        return report if cls.keep_result else None


def reject_unknown(data: dict, allowed: set[str], errors: dict[str, list[str]]) -> None:
    for key in data:
        if key not in allowed:
            errors.setdefault(key, []).append("unknown argument")


def is_pin(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 6 and value.isascii() and value.isdigit()
