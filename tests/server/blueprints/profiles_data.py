"""Configuration profiles for the blueprint tests: plain, signed, and ones a device refuses."""
from __future__ import annotations

import base64
import plistlib
import uuid


def mobileconfig(identifier: str = "com.example.wifi", *, display_name: str = "Wi-Fi", version: int = 1,
                 scope: str = "System", extra: dict | None = None) -> bytes:
    payload = {"PayloadType": "com.apple.wifi.managed", "PayloadIdentifier": f"{identifier}.payload",
               "PayloadUUID": str(uuid.uuid4()).upper(), "PayloadVersion": 1, "SSID_STR": f"corp-{version}",
               "Password": f"secret-{version}"}
    return plistlib.dumps({"PayloadType": "Configuration", "PayloadIdentifier": identifier,
                           "PayloadUUID": str(uuid.uuid4()).upper(), "PayloadDisplayName": display_name,
                           "PayloadDescription": f"version {version}", "PayloadVersion": 1, "PayloadScope": scope,
                           "PayloadContent": [payload], **(extra or {})})


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
