"""SecurityInfo: https://developer.apple.com/documentation/devicemanagement/security-info-command

Folds FileVault, enrollment and Activation Lock facts into the device row; an escrowed
FileVault PRK (FDE_PersonalRecoveryKeyCMS) is opened with the device's own escrow key
(``mdm/filevault.py``) and stored encrypted; a pending firmware password in effect
(FirmwarePasswordStatus) is promoted (``mdm/recovery_password.py``).
"""
from __future__ import annotations

from .base import Command


class SecurityInfo(Command):
    request_type = "SecurityInfo"
    keep_result = False

    @classmethod
    def process_result(cls, ctx, device, command, report):
        info = report.get("SecurityInfo")
        if not isinstance(info, dict):
            raise ValueError("SecurityInfo missing or not a dictionary")
        fde = info.get("FDE_Enabled")
        if isinstance(fde, bool):
            device.filevault_enabled = fde
        status = info.get("ManagementStatus")
        if isinstance(status, dict):
            for key, field in (("EnrolledViaDEP", "dep_enrollment"), ("UserApprovedEnrollment", "user_approved_enrollment"),
                               ("IsUserEnrollment", "user_enrollment"),
                               ("IsActivationLockManageable", "activation_lock_manageable")):
                if isinstance(status.get(key), bool):
                    setattr(device, field, status[key])
        from espalier.mdm import filevault, recovery_password

        prk_cms = info.get("FDE_PersonalRecoveryKeyCMS")
        if isinstance(prk_cms, bytes) and prk_cms:
            filevault.escrow_prk(ctx, device, prk_cms)
        recovery_password.firmware_status(ctx, device, info.get("FirmwarePasswordStatus"))
        device.last_inventory_at = ctx.now
        return None
