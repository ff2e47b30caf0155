"""Command modules, one per RequestType, registered by name."""
from __future__ import annotations

from .base import Command, CommandArgumentError
from .device_lock import DeviceLock
from .erase_device import EraseDevice

REGISTRY: dict[str, type[Command]] = {cls.request_type: cls for cls in (DeviceLock, EraseDevice)}


def get(request_type: str) -> type[Command] | None:
    return REGISTRY.get(request_type)


__all__ = ["Command", "CommandArgumentError", "REGISTRY", "get"]
