"""/api/mdm/devices/: list, detail, block/unblock/release, lock, erase, commands, secrets."""
from __future__ import annotations

from pydantic import Field

from espalier.mdm.commands import RAW_COMMAND_TYPES, DeviceLock, EraseDevice
from espalier.mdm.commands.custom import CustomCommandArguments
from espalier.permissions import RAW_COMMANDS
from espalier.services import devices as svc
from espalier.validation import Bool, Schema, char, choice
from espalier.web import runtime

from . import ApiError, actor, audit, bp, conflict, operation, require  # noqa: F401  (bp: the routes attach to it)
from .pagination import PageQuery, paginated
from espalier.services import commands as commands_svc

from espalier.services import convergence_status

from .schemas import (DEVICE_COLUMNS, Command, CommandIn, Device, DeviceArtifact, DeviceBlueprintIn, FileVaultPRK, NotifyIn,
                      RecoveryPassword, TaskRef, AdminPassword, command, device, dump, task_ref)

class DryRunQuery(Schema):
    dry_run: Bool = Field(False, description="check the request exactly as it would be queued, queue "
                                             "nothing; 200 with the command it would be (Espalier's)")


ORDERINGS = ("created_at", "-created_at", "last_seen_at", "-last_seen_at", "updated_at", "-updated_at")


class DeviceQuery(PageQuery):
    serial_number: char(256, allow_blank=True) = None
    udid: char(256, allow_blank=True) = None
    short_name: char(256, allow_blank=True) = Field(None, description="a user channel's short name")
    email: char(256, allow_blank=True) = Field(None, description="the enrolled user's email (no device has one "
                                                                 "without realms: a non-empty value matches none)")
    ordering: choice(*ORDERINGS) = None


@operation("GET", "/mdm/devices/", "mdm.view_enrolleddevice", query=DeviceQuery, response=[Device], paginated=True)
def device_list(s, query: DeviceQuery):
    """List enrolled devices (empty filters are ignored, as in Zentral)."""
    items, count = svc.list_devices(s, DEVICE_COLUMNS, serial_number=query.serial_number or None,
                                    udid=query.udid or None, short_name=query.short_name or None,
                                    email=query.email or None, ordering=query.ordering, limit=query.limit,
                                    offset=query.offset or 0, counts=runtime().counts)
    return paginated([device(d) for d in items], count, query.limit, query.offset), 200


@operation("GET", "/mdm/devices/<int:device_id>/", "mdm.view_enrolleddevice", response=Device)
def device_detail(s, device_id: int):
    """One enrolled device."""
    return device(svc.get_device(s, device_id)), 200


@operation("PATCH", "/mdm/devices/<int:device_id>/", "mdm.change_enrolleddevice", body=DeviceBlueprintIn,
           response=Device)
def device_update(s, device_id: int, body: DeviceBlueprintIn):
    """Move a device to another blueprint (null: none); it is pushed and converges. Espalier's own route."""
    return device(svc.set_blueprint(s, runtime(), device_id, body.blueprint)), 200


@operation("GET", "/mdm/devices/<int:device_id>/artifacts/", "mdm.view_deviceartifact", response=[DeviceArtifact])
def device_artifact_list(s, device_id: int):
    """The artifact versions of a device and their status (pending, installed, failed with the
    device's error chain, removed). Espalier's own route."""
    svc.get_device(s, device_id)
    return [dump(DeviceArtifact, a) for a in convergence_status.device_artifacts(s, device_id)], 200


@operation("POST", "/mdm/devices/<int:device_id>/block/", "mdm.change_enrolleddevice", response=Device)
def device_block(s, device_id: int):
    """Block a device: released at its next contact, refused at enrollment until unblocked."""
    return device(svc.block(s, device_id, actor())), 200


@operation("POST", "/mdm/devices/<int:device_id>/unblock/", "mdm.change_enrolleddevice", response=Device)
def device_unblock(s, device_id: int):
    """Unblock a device: it can enroll again."""
    return device(svc.unblock(s, device_id, actor())), 200


@operation("POST", "/mdm/devices/<int:device_id>/release/", "mdm.change_enrolleddevice", response=Device)
def device_release(s, device_id: int):
    """Release a device: the next enrollment of its UDID may take it over without attestation
    (a device wiped or replaced without checking out). Idempotent: ``released_at`` keeps the
    first release. Espalier's own route."""
    return device(svc.release(s, device_id, actor())), 200


def _queue(s, device_id: int, request_type: str, data, query: DryRunQuery):
    if query.dry_run:
        preview = commands_svc.would_queue(s, runtime(), svc.get_device(s, device_id), request_type, data)
        return {"dry_run": True, "command": preview}, 200
    return command(svc.queue(s, runtime(), device_id, request_type, data, actor())), 201


_DRY = {"responses": {"200": {"description": "dry_run: what would be queued", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/DryRun"}}}}}}


@operation("POST", "/mdm/devices/<int:device_id>/erase/", "mdm.add_devicecommand", query=DryRunQuery,
           body=EraseDevice.documented_models(), response=Command, status=201, extra=_DRY)
def device_erase(s, device_id: int, body, query: DryRunQuery):
    """Queue an EraseDevice command and notify the device."""
    return _queue(s, device_id, "EraseDevice", body, query)


@operation("POST", "/mdm/devices/<int:device_id>/lock/", "mdm.add_devicecommand", query=DryRunQuery,
           body=DeviceLock.documented_models(), response=Command, status=201, extra=_DRY)
def device_lock(s, device_id: int, body, query: DryRunQuery):
    """Queue a DeviceLock command and notify the device."""
    return _queue(s, device_id, "DeviceLock", body, query)


@operation("POST", "/mdm/devices/<int:device_id>/send_custom_command/", "mdm.add_devicecommand",
           RAW_COMMANDS, query=DryRunQuery, body=[CustomCommandArguments], response=Command, status=201, extra=_DRY)
def device_send_custom_command(s, device_id: int, body, query: DryRunQuery):
    """Queue a custom command (``command``: the Command dictionary as a plist) and notify the device."""
    return _queue(s, device_id, "CustomCommand", body, query)


@operation("POST", "/mdm/devices/<int:device_id>/commands/", "mdm.add_devicecommand", query=DryRunQuery,
           body=CommandIn, response=Command, status=201, extra=_DRY)
def device_command_create(s, device_id: int, body: CommandIn, query: DryRunQuery):
    """Queue any supported command (``name`` = RequestType; CustomCommand takes a raw
    ``command``); raw commands also need mdm.add_raw_devicecommand. Espalier's own route."""
    if body.name in RAW_COMMAND_TYPES:
        require(s, RAW_COMMANDS)
    return _queue(s, device_id, body.name, body.arguments, query)


@operation("POST", "/mdm/devices/notify/", "mdm.change_enrolleddevice", body=NotifyIn, response=TaskRef,
           status=201)
def device_notify(s, body: NotifyIn):
    """Push the given devices now, as a background task. Espalier's own route."""
    return task_ref(svc.notify(s, runtime(), body.devices)), 201


@operation("GET", "/mdm/devices/<int:device_id>/filevault_prk/", "mdm.view_filevault_prk", response=FileVaultPRK,
           writes=True, extra={"responses": conflict("the stored key cannot be decrypted")})
def device_filevault_prk(s, device_id: int):
    """The decrypted FileVault personal recovery key; each reveal is a stored audit event
    (``filevault_prk_viewed``, /api/mdm/audit_events/), committed before the key is sent."""
    d, value = svc.reveal_secret(s, runtime().secrets, device_id, "filevault_prk", actor(), runtime().queue)
    return {"id": d.id, "serial_number": d.serial_number, "filevault_prk": value}, 200


@operation("GET", "/mdm/devices/<int:device_id>/admin_password/", "mdm.view_admin_password", response=AdminPassword,
           writes=True, extra={"responses": conflict("the stored password cannot be decrypted")})
def device_admin_password(s, device_id: int):
    """Espalier's: the password of the macOS admin account its DEP enrollment created; each reveal
    is a stored audit event (``admin_password_viewed``), committed before the password is sent."""
    d, value = svc.reveal_secret(s, runtime().secrets, device_id, "admin_password", actor())
    return {"id": d.id, "serial_number": d.serial_number, "admin_short_name": d.admin_short_name,
            "admin_password": value}, 200


@operation("GET", "/mdm/devices/<int:device_id>/recovery_password/", "mdm.view_recovery_password",
           response=RecoveryPassword, writes=True,
           extra={"responses": conflict("the stored password cannot be decrypted")})
def device_recovery_password(s, device_id: int):
    """The decrypted recovery lock or firmware password; each reveal is a stored audit event
    (``recovery_password_viewed``), committed before the password is sent."""
    d, value = svc.reveal_secret(s, runtime().secrets, device_id, "recovery_password", actor())
    return {"id": d.id, "serial_number": d.serial_number, "recovery_password": value}, 200
