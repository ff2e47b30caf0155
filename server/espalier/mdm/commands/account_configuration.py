"""AccountConfiguration: https://developer.apple.com/documentation/devicemanagement/account-configuration-command

macOS during Setup Assistant (AwaitingConfiguration): the admin account of the device's DEP
enrollment. ``passwordHash`` is the plist of a ``SALTED-SHA512-PBKDF2`` dictionary; it is
kept base64 in the (encrypted) arguments and sent as data. The password itself is the
device's ``admin_password``, escrowed when the Mac acknowledges.
"""
from __future__ import annotations

import base64

from .server_only import ServerOnlyCommand


class AccountConfiguration(ServerOnlyCommand):
    request_type = "AccountConfiguration"
    platforms = ("macOS",)

    @classmethod
    def payload(cls, device, arguments):
        accounts = [{**account, "passwordHash": base64.b64decode(account["passwordHash"])}
                    for account in arguments.get("AutoSetupAdminAccounts", [])]
        return {"RequestType": cls.request_type, **arguments, "AutoSetupAdminAccounts": accounts}
