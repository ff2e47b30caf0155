"""/api/mdm/blocked_devices/: devices blocked before they enroll (Espalier's own routes)."""
from __future__ import annotations

from espalier.services import blocked as svc
from espalier.validation import char

from . import actor, operation
from .pagination import PageQuery, paginate_list
from .schemas import BlockedDevice, BlockedDeviceIn, dump


class BlockedQuery(PageQuery):
    serial_number: char(64, allow_blank=True) = None
    udid: char(64, allow_blank=True) = None


@operation("GET", "/mdm/blocked_devices/", "mdm.view_enrolleddevice", query=BlockedQuery,
           response=[BlockedDevice], paginated=True)
def blocked_device_list(s, query: BlockedQuery):
    """Serial numbers and UDIDs refused at enrollment (an enrolled device is blocked on its own row)."""
    rows = svc.list_blocked(s, query.serial_number or None, query.udid or None)
    return paginate_list([dump(BlockedDevice, b) for b in rows], query), 200


@operation("POST", "/mdm/blocked_devices/", "mdm.change_enrolleddevice", body=BlockedDeviceIn,
           response=BlockedDevice, status=201, extra={"responses": {"200": {
               "description": "already blocked: the existing entry", "content": {"application/json": {
                   "schema": {"$ref": "#/components/schemas/BlockedDevice"}}}}}})
def blocked_device_add(s, body: BlockedDeviceIn):
    """Block a serial number or UDID before it enrolls (201; 200 when it already was)."""
    entry, created = svc.block(s, body.serial_number, body.udid, body.reason, actor())
    return dump(BlockedDevice, entry), 201 if created else 200


@operation("DELETE", "/mdm/blocked_devices/<int:entry_id>/", "mdm.change_enrolleddevice", status=204)
def blocked_device_delete(s, entry_id: int):
    """Let this serial number or UDID enroll again."""
    svc.unblock(s, entry_id, actor())
    return None, 204
