"""RotateFileVaultKey: https://developer.apple.com/documentation/devicemanagement/rotate-filevault-key-command

A new personal recovery key, unlocked with the current one (``FileVaultUnlock.Password``),
answered sealed to the device's escrow certificate (``ReplyEncryptionCertificate``, DER).
It replaces the stored PRK only when it opens; otherwise the old one stays.
"""
from __future__ import annotations

import base64
import logging

from .server_only import ServerOnlyCommand

log = logging.getLogger(__name__)


class RotateFileVaultKey(ServerOnlyCommand):
    request_type = "RotateFileVaultKey"
    platforms = ("macOS",)

    @classmethod
    def payload(cls, device, arguments):
        return {"RequestType": cls.request_type, "KeyType": arguments["KeyType"],
                "FileVaultUnlock": arguments["FileVaultUnlock"],
                "ReplyEncryptionCertificate": base64.b64decode(arguments["ReplyEncryptionCertificate"])}

    @classmethod
    def process_result(cls, ctx, device, command, report):
        from espalier.mdm import filevault

        result = report.get("RotateResult")
        sealed = result.get("EncryptedNewRecoveryKey") if isinstance(result, dict) else None
        if not isinstance(sealed, bytes) or not filevault.escrow_prk(ctx, device, sealed):
            log.warning("device %s: RotateFileVaultKey acknowledged without a usable new key; the old one is kept",
                        device.udid)
        return None
