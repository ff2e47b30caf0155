"""What every command module provides: target rules, argument shapes, payload, result handling.

A module declares one ``Command`` subclass named after the RequestType. Operators' input
arrives as snake_case API fields, validated with DRF's rules and texts by the ``Schema``
the device calls for (``arguments_model``: the fields depend on the platform, and fields
that do not apply are ignored, as in Zentral); ``build`` turns it into Apple's keys, which
are stored (encrypted) and sent (``payload``); the device's answer is folded into the device
row or kept (``process_result``).
"""
from __future__ import annotations

from typing import Any, ClassVar

from espalier.validation import Invalid, Schema, parse


class CommandArgumentError(Exception):
    """Bad input for a command: DRF-shaped field errors, or a ``detail`` alone."""

    def __init__(self, errors: dict[str, Any] | None, detail: str | None = None):
        self.errors = errors or {}
        self.detail = detail or "invalid arguments: " + "; ".join(
            f"{field}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
            for field, msgs in self.errors.items())
        super().__init__(self.detail)


class InvalidTarget(CommandArgumentError):
    """The command does not apply to this device (Zentral: 400 ``Invalid target.``)."""

    def __init__(self):
        super().__init__(None, "Invalid target.")


class Command:
    request_type: ClassVar[str]
    #: platforms the command applies to; None = every platform
    platforms: ClassVar[tuple[str, ...] | None] = None
    #: user-enrolled (BYOD) devices refuse some commands
    allowed_on_user_enrollment: ClassVar[bool] = True
    #: keep the raw answer in device_commands.result (inventory is folded into the device instead)
    keep_result: ClassVar[bool] = True
    #: the argument shape when it does not depend on the device; None = no arguments
    Arguments: ClassVar[type[Schema] | None] = None

    @classmethod
    def verify_target(cls, device) -> bool:
        if cls.platforms is not None and device.platform not in cls.platforms:
            return False
        return cls.allowed_on_user_enrollment or not device.user_enrollment

    @classmethod
    def arguments_model(cls, device) -> type[Schema] | None:
        """The shape of operator input for ``device``."""
        return cls.Arguments

    @classmethod
    def documented_models(cls) -> list[type[Schema]]:
        """Every shape the command may take (the OpenAPI document lists them)."""
        return [cls.Arguments] if cls.Arguments else []

    @classmethod
    def build(cls, device, args: Schema | None) -> dict[str, Any]:
        """Apple's keys for validated ``args``; default: none."""
        return {}

    @classmethod
    def validate(cls, device, data: dict[str, Any]) -> dict[str, Any]:
        """Check operator input for ``device``; return the arguments to store."""
        if not cls.verify_target(device):
            raise InvalidTarget()
        model = cls.arguments_model(device)
        if model is None:
            return cls.build(device, None)
        try:
            return cls.build(device, parse(model, data if data is not None else {}, context=cls.request_type))
        except Invalid as exc:
            raise CommandArgumentError(exc.errors) from None

    @classmethod
    def payload(cls, device, arguments: dict[str, Any]) -> dict[str, Any]:
        """The ``Command`` dictionary sent to the device, from the stored ``arguments`` (what
        depends on the device was decided by ``build`` when it was queued): at hand-out
        ``device`` is often the session's row (``lookup.SESSION_COLUMNS``), not the ORM device."""
        return {"RequestType": cls.request_type, **arguments}

    @classmethod
    def process_result(cls, ctx, device, command, report: dict[str, Any]) -> Any:
        """Handle an Acknowledged report (``ctx``: mdm.context.Context); return what to store."""
        return report if cls.keep_result else None
