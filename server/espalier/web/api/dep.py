"""/api/mdm/dep/: ADE virtual servers, their device sync, DEP devices (Zentral's), server tokens (Espalier's).

Zentral's routes: virtual servers (list, filter ``name``, detail), ``sync_devices`` (201
``{"task_id", "task_result_url"}``, ``?full_sync``), DEP devices (list with Zentral's
filters and orderings, always a page: limit 50 by default, 500 at most), detail, disown.
While a sync of the server runs, ``sync_devices`` answers that running task (same 201
shape): two syncs of one server never run at once. Zentral has no API for server tokens;
``/api/mdm/dep/tokens/`` and ``renew_token`` are Espalier's.
"""
from __future__ import annotations

from pydantic import Field
from sqlalchemy import select

from espalier.apple.abm import ABMError, client_for
from espalier.models import DEPVirtualServer as VirtualServerRow
from espalier.models import utcnow
from espalier.permissions import DISOWN_DEP_DEVICE
from espalier.services import dep_devices, dep_tokens
from espalier.validation import char, choice, integer
from espalier.web import runtime

from . import ApiError, audit, caller_may, conflict, operation
from .pagination import NameQuery, PageQuery, paginated
from .schemas import (DEPDevice, DEPDisownResult, DEPToken, DEPTokenUploadIn, DEPVirtualServer, TaskRef, dep_device,
                      dep_token, dep_virtual_server)

DEVICE_PAGE_DEFAULT, DEVICE_PAGE_MAX = 50, 500
_TRUTHY = ("", "yes", "y", "t", "true")


def _orderings(*names: str) -> tuple[str, ...]:
    return tuple(n for name in names for n in (name, f"-{name}"))


class VirtualServerQuery(NameQuery):
    ordering: choice(*_orderings("id", "name", "created_at", "updated_at")) = None


class SyncQuery(PageQuery):
    full_sync: char(16, allow_blank=True) = Field(None, description="present (or yes/true): a full fetch")


class DEPDeviceQuery(PageQuery):
    device_family: char(256, allow_blank=True) = None
    enrollment: integer(0) = None
    profile_status: char(16, allow_blank=True) = None
    profile_uuid: char(64, allow_blank=True) = None
    serial_number: char(64, allow_blank=True) = None
    virtual_server: integer(0) = None
    ordering: choice(*_orderings(*dep_devices.ORDERINGS)) = None


def _make_client(creds):
    return client_for(runtime().settings.mdm["abm"], creds)


@operation("GET", "/mdm/dep/virtual_servers/", "mdm.view_depvirtualserver", query=VirtualServerQuery,
           response=[DEPVirtualServer], paginated=True)
def dep_virtual_server_list(s, query: VirtualServerQuery):
    """ADE virtual servers; filter ``name``."""
    stmt = select(VirtualServerRow)
    if query.name:
        stmt = stmt.where(VirtualServerRow.name == query.name)
    key = query.ordering or "id"
    column = getattr(VirtualServerRow, key.lstrip("-"))
    rows = list(s.scalars(stmt.order_by(column.desc() if key.startswith("-") else column, VirtualServerRow.id)))
    limit = query.limit or 1000
    offset = query.offset or 0
    return paginated([dep_virtual_server(v) for v in rows[offset:offset + limit]], len(rows), limit, offset), 200


@operation("GET", "/mdm/dep/virtual_servers/<int:server_id>/", "mdm.view_depvirtualserver",
           response=DEPVirtualServer)
def dep_virtual_server_detail(s, server_id: int):
    """One ADE virtual server."""
    return dep_virtual_server(dep_tokens.get_server(s, server_id)), 200


@operation("POST", "/mdm/dep/virtual_servers/<int:server_id>/sync_devices/", "mdm.view_depvirtualserver",
           query=SyncQuery, response=TaskRef, status=201)
def dep_virtual_server_sync_devices(s, server_id: int, query: SyncQuery):
    """Start a device sync (``?full_sync``: fetch everything again); a sync already running is answered."""
    dep_tokens.get_server(s, server_id)
    full = query.full_sync is not None and query.full_sync.lower() in _TRUTHY
    task_id, _ = dep_devices.start_sync(s, runtime().queue, server_id, full)
    return {"task_id": task_id, "task_result_url": f"/api/task_result/{task_id}/"}, 201


@operation("POST", "/mdm/dep/virtual_servers/<int:server_id>/renew_token/", "mdm.change_depvirtualserver",
           response=DEPToken, status=201)
def dep_virtual_server_renew_token(s, server_id: int):
    """A new key pair for the server's token: upload its certificate to ABM, then the new p7m (Espalier's)."""
    token = dep_tokens.renew_token(s, runtime().secrets, server_id)
    audit(s, "dep_token_renewal_requested", "depvirtualserver", server_id, token=token.id)
    return dep_token(token, server_id), 201


@operation("POST", "/mdm/dep/tokens/", "mdm.add_depvirtualserver", response=DEPToken, status=201)
def dep_token_request(s):
    """A new server token: its certificate is what to upload to ABM/ASM (Espalier's)."""
    token = dep_tokens.request_token(s, runtime().secrets)
    audit(s, "dep_token_requested", "deptoken", token.id)
    return dep_token(token, None), 201


@operation("GET", "/mdm/dep/tokens/<int:token_id>/", "mdm.view_depvirtualserver", response=DEPToken)
def dep_token_detail(s, token_id: int):
    """A server token's certificate and expiry (Espalier's)."""
    token = dep_tokens.get_token(s, token_id)
    server = dep_tokens.server_of(s, token)
    return dep_token(token, server.id if server else None), 200


@operation("POST", "/mdm/dep/tokens/<int:token_id>/upload/", "mdm.view_depvirtualserver", body=DEPTokenUploadIn,
           response=DEPVirtualServer, extra={"responses": conflict("the p7m is another server's")})
def dep_token_upload(s, token_id: int, body: DEPTokenUploadIn):
    """Upload the ``*_smime.p7m``: a new virtual server (mdm.add_depvirtualserver) or a renewal
    (mdm.change_depvirtualserver), which must be for the same server (Espalier's)."""
    token = dep_tokens.get_token(s, token_id)
    existing = dep_tokens.server_of(s, token)
    needed = "mdm.change_depvirtualserver" if existing else "mdm.add_depvirtualserver"
    if not caller_may(s, needed):
        raise ApiError(403, f"You do not have permission to perform this action. ({needed})")
    server = dep_tokens.upload_token(s, runtime().secrets, token_id, body.token.encode(), _make_client)
    audit(s, "dep_token_uploaded", "depvirtualserver", server.id, token=token_id, uuid=server.uuid)
    return dep_virtual_server(server), 200


@operation("GET", "/mdm/dep/devices/", "mdm.view_depdevice", query=DEPDeviceQuery, response=[DEPDevice],
           paginated=True)
def dep_device_list(s, query: DEPDeviceQuery):
    """DEP devices; filters and orderings as Zentral's (empty filters are ignored)."""
    filters = {"device_family": query.device_family or None, "enrollment_id": query.enrollment,
               "profile_status": query.profile_status or None, "profile_uuid": query.profile_uuid or None,
               "serial_number": query.serial_number or None, "virtual_server_id": query.virtual_server}
    limit = min(query.limit or DEVICE_PAGE_DEFAULT, DEVICE_PAGE_MAX)
    rows, count = dep_devices.list_devices(s, filters, query.ordering, limit, query.offset)
    return paginated([dep_device(d) for d in rows], count, limit, query.offset), 200


@operation("GET", "/mdm/dep/devices/<int:device_id>/", "mdm.view_depdevice", response=DEPDevice)
def dep_device_detail(s, device_id: int):
    """One DEP device."""
    return dep_device(dep_devices.get_device(s, device_id)), 200


@operation("POST", "/mdm/dep/devices/<int:device_id>/disown/", DISOWN_DEP_DEVICE, response=DEPDisownResult)
def dep_device_disown(s, device_id: int):
    """Disown the device at Apple (irreversible): ``{"result": status}`` or ``{"error": ...}``."""
    device = dep_devices.get_device(s, device_id)
    server = dep_tokens.get_server(s, device.virtual_server_id)
    token = dep_tokens.get_token(s, server.token_id) if server.token_id else None
    out: dict = {}
    if token is None or not token.has_credentials:
        out["error"] = "the virtual server has no server token"
    else:
        client = _make_client(dep_tokens.credentials(runtime().secrets, token))
        try:
            result = client.disown_devices([device.serial_number]).get(device.serial_number)
            out["result"] = result
            if result == "SUCCESS":
                device.disowned_at = utcnow()
        except ABMError as exc:
            out["error"] = str(exc)
        finally:
            client.close()
    audit(s, "dep_device_disowned", "depdevice", device_id, serial_number=device.serial_number, **out)
    return out, 200
