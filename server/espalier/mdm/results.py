"""What is kept of a device's answer: JSON-able, and never an escrowed secret.

Command results are readable through the API with ``mdm.view_devicecommand``. A device's
answer may hold secrets (a SecurityInfo asked for by a CustomCommand carries the FileVault
recovery key CMS; RotateFileVaultKey the new key; ActivationLockBypassCode its code), which
only the permission-gated reveal endpoints may return: they are replaced by a marker
before the result is stored.
"""
from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

REDACTED = "<redacted>"
SECRET_KEYS = frozenset({
    "FDE_PersonalRecoveryKeyCMS", "FDE_PersonalRecoveryKeyDeviceKey", "EncryptedNewRecoveryKey",
    "ActivationLockBypassCode", "BootstrapToken", "UnlockToken", "PIN", "Password", "NewPassword",
    "CurrentPassword", "RecoveryLockPassword", "FirmwarePassword",
})


def stored(value: Any) -> Any:
    """The form a result is kept in: JSON (data as base64, dates as ISO 8601), secrets
    replaced by ``REDACTED``."""
    if isinstance(value, dict):
        return {str(k): REDACTED if k in SECRET_KEYS else stored(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [stored(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.isoformat()
    return value
