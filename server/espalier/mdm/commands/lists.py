"""Inventory lists kept as command results: profiles, certificates, installed applications.

ProfileList: https://developer.apple.com/documentation/devicemanagement/profile-list-command
CertificateList: https://developer.apple.com/documentation/devicemanagement/certificate-list-command
InstalledApplicationList:
https://developer.apple.com/documentation/devicemanagement/installed-application-list-command
"""
from __future__ import annotations

from .base import Command, CommandArgumentError


def _managed_only(data):
    if set(data) - {"managed_only"}:
        raise CommandArgumentError({k: ["unknown argument"] for k in set(data) - {"managed_only"}})
    value = data.get("managed_only", False)
    if not isinstance(value, bool):
        raise CommandArgumentError({"managed_only": ["must be a boolean"]})
    return {"ManagedOnly": value} if value else {}


class _ManagedOnlyList(Command):
    """A list command whose one argument is ``managed_only``."""

    @classmethod
    def validate(cls, device, data):
        cls.check_target(device)
        return _managed_only(data)


class ProfileList(_ManagedOnlyList):
    request_type = "ProfileList"


class CertificateList(_ManagedOnlyList):
    request_type = "CertificateList"


class InstalledApplicationList(Command):
    request_type = "InstalledApplicationList"

    @classmethod
    def validate(cls, device, data):
        cls.check_target(device)
        args = _managed_only({k: v for k, v in data.items() if k != "identifiers"})
        ids = data.get("identifiers")
        if ids is not None:
            if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
                raise CommandArgumentError({"identifiers": ["must be a list of bundle identifiers"]})
            args["Identifiers"] = ids
        return args
