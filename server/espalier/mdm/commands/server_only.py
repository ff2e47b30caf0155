"""Commands the server queues itself (FileVault, recovery lock, firmware password): operators
cannot queue them by hand, their arguments carry keys and passwords only the server holds."""
from __future__ import annotations

from .base import Command, CommandArgumentError


class ServerOnlyCommand(Command):
    keep_result = False  # the answer carries a sealed key at most: folded into the device, never kept

    @classmethod
    def validate(cls, device, data):
        raise CommandArgumentError(None, f"{cls.request_type} is queued by the server only (its blueprint's "
                                         "FileVault or recovery password configuration).")
