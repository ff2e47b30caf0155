"""Inventory lists kept as command results: profiles, certificates, installed applications.

ProfileList: https://developer.apple.com/documentation/devicemanagement/profile-list-command
CertificateList: https://developer.apple.com/documentation/devicemanagement/certificate-list-command
InstalledApplicationList:
https://developer.apple.com/documentation/devicemanagement/installed-application-list-command
"""
from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator

from espalier.validation import Bool, Schema

from .base import Command


class ManagedOnlyArguments(Schema):
    managed_only: Bool = False


def _identifiers(value):
    from pydantic_core import PydanticCustomError

    if not isinstance(value, list) or not all(isinstance(i, str) and 0 < len(i) <= 256 for i in value):
        raise PydanticCustomError("drf", "Expected a list of bundle identifiers.")
    return value


class InstalledApplicationListArguments(ManagedOnlyArguments):
    identifiers: Annotated[list[str], BeforeValidator(_identifiers)] | None = None


class _ManagedOnlyList(Command):
    Arguments = ManagedOnlyArguments

    @classmethod
    def build(cls, device, args):
        return {"ManagedOnly": True} if args.managed_only else {}


class ProfileList(_ManagedOnlyList):
    request_type = "ProfileList"

    @classmethod
    def process_result(cls, ctx, device, command, report):
        """The device's truth about the profiles we installed corrects their rows."""
        from espalier.mdm import convergence

        convergence.reconcile(ctx, device, report.get("ProfileList"))
        return report


class CertificateList(_ManagedOnlyList):
    request_type = "CertificateList"


class InstalledApplicationList(_ManagedOnlyList):
    request_type = "InstalledApplicationList"
    Arguments = InstalledApplicationListArguments

    @classmethod
    def build(cls, device, args):
        out = super().build(device, args)
        if args.identifiers:
            out["Identifiers"] = args.identifiers
        return out
