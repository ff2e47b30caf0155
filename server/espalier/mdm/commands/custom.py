"""A raw command an operator writes by hand: the Command dictionary as a plist or JSON object.

The RequestType must be a plain identifier; the device answers whatever it answers and the
report is kept as the result.
"""
from __future__ import annotations

import re

from .base import Command, CommandArgumentError, reject_unknown

_REQUEST_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9.]{1,63}$")


class CustomCommand(Command):
    request_type = "CustomCommand"

    @classmethod
    def validate(cls, device, data):
        cls.check_target(device)
        errors: dict[str, list[str]] = {}
        reject_unknown(data, {"command"}, errors)
        command = data.get("command")
        if not isinstance(command, dict):
            errors.setdefault("command", []).append("required: the Command dictionary with its RequestType")
        elif not isinstance(command.get("RequestType"), str) or not _REQUEST_TYPE.match(command["RequestType"]):
            errors.setdefault("command", []).append("RequestType must be a command name")
        if errors:
            raise CommandArgumentError(errors)
        return {"Command": command}

    @classmethod
    def payload(cls, device, arguments):
        return dict(arguments["Command"])
