"""/api/mdm/devices/: list, detail, block/unblock, lock, erase, and the escrowed secrets."""
from __future__ import annotations

from flask import request

from espalier.services import devices as svc
from espalier.web import runtime

from espalier.mdm.commands import RAW_COMMAND_TYPES
from espalier.permissions import RAW_COMMANDS

from . import ApiError, api_view, bp, require, serializers
from .pagination import page_params, paginated
from .validation import json_body, reject_unknown_args


@bp.get("/mdm/devices/")
@api_view("mdm.view_enrolleddevice")
def device_list(s):
    """List enrolled devices; filters serial_number and udid; limit/offset pages."""
    reject_unknown_args({"serial_number", "udid", "limit", "offset"})
    limit, offset = page_params()
    items, count = svc.list_devices(s, serial_number=request.args.get("serial_number"),
                                    udid=request.args.get("udid"), limit=limit, offset=offset)
    return paginated([serializers.device(d) for d in items], count, limit, offset), 200


@bp.get("/mdm/devices/<int:device_id>/")
@api_view("mdm.view_enrolleddevice")
def device_detail(s, device_id: int):
    """One enrolled device."""
    return serializers.device(svc.get_device(s, device_id)), 200


@bp.post("/mdm/devices/<int:device_id>/block/")
@api_view("mdm.change_enrolleddevice")
def device_block(s, device_id: int):
    """Block a device: released at its next contact, refused at enrollment until unblocked."""
    json_body(set())
    return serializers.device(svc.block(s, device_id)), 200


@bp.post("/mdm/devices/<int:device_id>/unblock/")
@api_view("mdm.change_enrolleddevice")
def device_unblock(s, device_id: int):
    """Unblock a device: it can enroll again."""
    json_body(set())
    return serializers.device(svc.unblock(s, device_id)), 200


@bp.post("/mdm/devices/<int:device_id>/release/")
@api_view("mdm.change_enrolleddevice")
def device_release(s, device_id: int):
    """Release a device: the next enrollment of its UDID may take it over without attestation
    (a device wiped or replaced without checking out). Espalier's own route."""
    json_body(set())
    return serializers.device(svc.release(s, device_id)), 200


@bp.post("/mdm/devices/<int:device_id>/erase/")
@api_view("mdm.add_devicecommand")
def device_erase(s, device_id: int):
    """Queue an EraseDevice command and notify the device."""
    data = json_body({"disallow_proximity_setup", "preserve_data_plan", "pin"})
    return serializers.command(svc.erase(s, runtime(), device_id, data)), 201


@bp.post("/mdm/devices/<int:device_id>/lock/")
@api_view("mdm.add_devicecommand")
def device_lock(s, device_id: int):
    """Queue a DeviceLock command and notify the device."""
    data = json_body({"pin", "message", "phone_number"})
    return serializers.command(svc.lock(s, runtime(), device_id, data)), 201


@bp.post("/mdm/devices/<int:device_id>/commands/")
@api_view("mdm.add_devicecommand")
def device_command_create(s, device_id: int):
    """Queue any supported command (``name`` = RequestType, or CustomCommand with a raw ``command``)."""
    data = json_body({"name", "arguments"})
    name, arguments = data.get("name"), data.get("arguments", {})
    if not isinstance(name, str) or not isinstance(arguments, dict):
        raise ApiError(400, "name (a RequestType) and arguments (an object) are required",
                       {"name": ["required"]} if not isinstance(name, str) else {"arguments": ["must be an object"]})
    if name in RAW_COMMAND_TYPES:
        require(s, RAW_COMMANDS)
    return serializers.command(svc.queue(s, runtime(), device_id, name, arguments)), 201


@bp.post("/mdm/devices/notify/")
@api_view("mdm.change_enrolleddevice")
def device_notify(s):
    """Push the given devices (``{"devices": [ids]}``) now, as a background task."""
    data = json_body({"devices"})
    ids = data.get("devices")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ApiError(400, "devices: a non-empty list of device ids is required",
                       {"devices": ["a non-empty list of device ids"]})
    return serializers.task_ref(svc.notify(s, runtime(), ids)), 201


@bp.get("/mdm/devices/<int:device_id>/filevault_prk/")
@api_view("mdm.view_filevault_prk")
def device_filevault_prk(s, device_id: int):
    """The decrypted FileVault personal recovery key."""
    device, value = svc.reveal_secret(s, runtime().secrets, device_id, "filevault_prk")
    return {"id": device.id, "serial_number": device.serial_number, "filevault_prk": value}, 200


@bp.get("/mdm/devices/<int:device_id>/recovery_password/")
@api_view("mdm.view_recovery_password")
def device_recovery_password(s, device_id: int):
    """The decrypted recovery lock or firmware password."""
    device, value = svc.reveal_secret(s, runtime().secrets, device_id, "recovery_password")
    return {"id": device.id, "serial_number": device.serial_number, "recovery_password": value}, 200
