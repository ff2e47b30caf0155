"""/api/mdm/devices/commands/: the command queue, pending and answered."""
from __future__ import annotations

from espalier.models.commands import REPORT_STATUSES
from espalier.services import commands as svc
from espalier.validation import char, choice, integer
from espalier.web import runtime

from pydantic import Field

from . import conflict, operation
from .pagination import PageQuery, paginated
from .schemas import Command, command


class CommandQuery(PageQuery):
    enrolled_device: integer(1) = None
    name: char(64, allow_blank=True) = None
    status: choice("pending", *REPORT_STATUSES, "Canceled") = None
    request_hash: char(64, allow_blank=True) = Field(None, description="commands that are the same request")


@operation("GET", "/mdm/devices/commands/", "mdm.view_devicecommand", query=CommandQuery, response=[Command],
           paginated=True)
def command_list(s, query: CommandQuery):
    """Commands, newest first; filters enrolled_device, name, status (pending = not answered)."""
    items, count = svc.list_commands(s, device_id=query.enrolled_device, name=query.name or None,
                                     status=query.status, request_hash=query.request_hash or None,
                                     limit=query.limit, offset=query.offset or 0, counts=runtime().counts)
    return paginated([command(c) for c in items], count, query.limit, query.offset), 200


@operation("GET", "/mdm/devices/commands/<uuid>/", "mdm.view_devicecommand", response=Command)
def command_detail(s, uuid: str):
    """One command by UUID."""
    return command(svc.get_command(s, uuid)), 200


@operation("POST", "/mdm/devices/commands/<uuid>/cancel/", "mdm.change_devicecommand", response=Command,
           extra={"responses": conflict("the command was already answered, canceled or fetched")})
def command_cancel(s, uuid: str):
    """Withdraw a command the device has not fetched yet (409 once it has). Espalier's own."""
    return command(svc.cancel(s, uuid)), 200
