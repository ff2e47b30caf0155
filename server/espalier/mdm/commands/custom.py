"""A raw command an operator writes by hand: the ``Command`` dictionary.

As Zentral's ``send_custom_command``: ``command`` is the Command as a plist (the ``<plist>``
wrapper may be left out); our generic route also takes it as a JSON object. Its RequestType
must be a plain identifier; the device answers whatever it answers and the answer is kept
(secrets redacted, ``mdm/results.py``).
"""
from __future__ import annotations

import plistlib
import re
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from espalier.validation import Schema

from .base import Command

_REQUEST_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9.]{1,63}$")
MAX_COMMAND = 256 * 1024


def _fail(message: str):
    raise PydanticCustomError("drf", message)


def _command(value: Any) -> dict:
    if value is None:
        _fail("This field may not be null.")
    if isinstance(value, str):
        if not value.strip():
            _fail("This field may not be blank.")
        if len(value) > MAX_COMMAND:
            _fail(f"Ensure this field has no more than {MAX_COMMAND} characters.")
        text = value.strip()
        if not text.startswith("<"):
            _fail("Invalid property list")
        if not text.startswith(("<?xml", "<plist", "<!DOCTYPE")):
            text = f'<plist version="1.0">{text}</plist>'
        try:
            value = plistlib.loads(text.encode(), fmt=plistlib.FMT_XML)
        except Exception:
            _fail("Invalid property list")
    if not isinstance(value, dict):
        _fail("Not a dictionary")
    request_type = value.get("RequestType")
    if not isinstance(request_type, str) or not request_type:
        _fail("Missing or empty RequestType")
    if not _REQUEST_TYPE.match(request_type):
        _fail("RequestType must be a command name")
    return value


CommandDict = Annotated[dict, BeforeValidator(_command)]


class CustomCommandArguments(Schema):
    command: CommandDict


class CustomCommand(Command):
    request_type = "CustomCommand"
    Arguments = CustomCommandArguments

    @classmethod
    def build(cls, device, args):
        return {"Command": args.command}

    @classmethod
    def payload(cls, device, arguments):
        return dict(arguments["Command"])
