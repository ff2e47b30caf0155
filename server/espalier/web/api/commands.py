"""/api/mdm/devices/commands/: the command queue, pending and answered."""
from __future__ import annotations

from flask import request
from sqlalchemy import func, select

from espalier.models import DeviceCommand
from espalier.models.commands import PENDING, REPORT_STATUSES
from espalier.services.commands import get_command

from . import ApiError, api_view, bp, serializers
from .pagination import page_params, paginated
from .validation import int_arg, reject_unknown_args

STATUS_FILTERS = ("pending",) + REPORT_STATUSES


@bp.get("/mdm/devices/commands/")
@api_view("mdm.view_devicecommand")
def command_list(s):
    """Commands, newest first; filters enrolled_device, name, status (pending = not answered)."""
    reject_unknown_args({"enrolled_device", "name", "status", "limit", "offset"})
    stmt = select(DeviceCommand)
    device_id = int_arg("enrolled_device", None, minimum=1)
    if device_id is not None:
        stmt = stmt.where(DeviceCommand.enrolled_device_id == device_id)
    if name := request.args.get("name"):
        stmt = stmt.where(DeviceCommand.name == name)
    if status := request.args.get("status"):
        if status not in STATUS_FILTERS:
            raise ApiError(400, f"status: must be one of {', '.join(STATUS_FILTERS)}",
                           {"status": [f"must be one of {', '.join(STATUS_FILTERS)}"]})
        stmt = stmt.where(PENDING if status == "pending" else DeviceCommand.status == status)
    limit, offset = page_params()
    count = None
    if limit is not None:
        count = s.scalar(select(func.count()).select_from(stmt.subquery()))
        stmt = stmt.limit(limit).offset(offset)
    stmt = stmt.order_by(DeviceCommand.created_at.desc(), DeviceCommand.id.desc())
    return paginated([serializers.command(c) for c in s.scalars(stmt)], count, limit, offset), 200


@bp.get("/mdm/devices/commands/<uuid>/")
@api_view("mdm.view_devicecommand")
def command_detail(s, uuid: str):
    """One command by UUID."""
    return serializers.command(get_command(s, uuid)), 200
