"""DeclarativeManagement: turns DDM on (the first one) and asks the device to sync.

https://developer.apple.com/documentation/devicemanagement/declarativemanagementcommand
``Data`` is JSON (``{"SyncTokens": {"DeclarationsToken", "Timestamp"}}``), stored as its
base64 text (arguments are stored as JSON) and sent as plist data.
"""
from __future__ import annotations

import base64
from typing import Any, ClassVar

from .base import Command


class DeclarativeManagement(Command):
    request_type = "DeclarativeManagement"
    platforms: ClassVar[tuple[str, ...]] = ("iOS", "iPadOS", "macOS", "tvOS")

    @classmethod
    def payload(cls, device, arguments: dict[str, Any]) -> dict[str, Any]:
        command: dict[str, Any] = {"RequestType": cls.request_type}
        if arguments.get("Data"):
            command["Data"] = base64.b64decode(arguments["Data"])
        return command
