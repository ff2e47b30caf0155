"""InstallApplication, RemoveApplication and ManagedApplicationList, as store app artifacts
send them (mdm/store_apps.py): queued by the server only, like the FileVault commands.

https://developer.apple.com/documentation/devicemanagement/install-application-command
https://developer.apple.com/documentation/devicemanagement/remove-application-command
https://developer.apple.com/documentation/devicemanagement/managed-application-list-command
"""
from __future__ import annotations

import plistlib

from .server_only import ServerOnlyCommand


class InstallApplication(ServerOnlyCommand):
    request_type = "InstallApplication"
    keep_result = True  # the Identifier the device answers

    @classmethod
    def payload(cls, device, arguments):
        # stored as JSON, so the managed app configuration waits as its plist text
        out = {"RequestType": cls.request_type, **arguments}
        if isinstance(out.get("Configuration"), str):
            out["Configuration"] = plistlib.loads(out["Configuration"].encode())
        return out


class RemoveApplication(ServerOnlyCommand):
    request_type = "RemoveApplication"


class ManagedApplicationList(ServerOnlyCommand):
    request_type = "ManagedApplicationList"
    keep_result = True  # read by mdm/store_apps.confirm
