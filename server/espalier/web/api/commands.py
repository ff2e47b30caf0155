"""/api/mdm/devices/commands/: the command queue, pending and answered."""
from __future__ import annotations

from flask import request

from espalier.models.commands import REPORT_STATUSES
from espalier.services import commands as svc

from . import ApiError, api_view, bp, serializers
from .pagination import page_params, paginated
from .validation import int_arg, reject_unknown_args

STATUS_FILTERS = ("pending",) + REPORT_STATUSES


@bp.get("/mdm/devices/commands/")
@api_view("mdm.view_devicecommand")
def command_list(s):
    """Commands, newest first; filters enrolled_device, name, status (pending = not answered)."""
    reject_unknown_args({"enrolled_device", "name", "status", "limit", "offset"})
    status = request.args.get("status") or None
    if status is not None and status not in STATUS_FILTERS:
        raise ApiError(400, f"status: must be one of {', '.join(STATUS_FILTERS)}",
                       {"status": [f"must be one of {', '.join(STATUS_FILTERS)}"]})
    limit, offset = page_params()
    items, count = svc.list_commands(s, device_id=int_arg("enrolled_device", None, minimum=1),
                                     name=request.args.get("name") or None, status=status,
                                     limit=limit, offset=offset)
    return paginated([serializers.command(c) for c in items], count, limit, offset), 200


@bp.get("/mdm/devices/commands/<uuid>/")
@api_view("mdm.view_devicecommand")
def command_detail(s, uuid: str):
    """One command by UUID."""
    return serializers.command(svc.get_command(s, uuid)), 200
