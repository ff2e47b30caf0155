"""/api/mdm/declarations/ (declaration versions of an artifact) and a device's declaration
status. Espalier's own routes: Zentral has no declaration API; the shapes mirror profiles."""
from __future__ import annotations

from espalier.services import convergence_status
from espalier.services import declarations as svc
from espalier.services import devices as device_svc
from espalier.web import runtime

from . import operation, refusal
from .pagination import PageQuery, paginate_list
from .schemas import DeclarationIn, DeclarationOut, DeviceDeclaration, declaration, dump


def _out(d) -> dict:
    return declaration(d, svc.declaration_source(runtime().secrets, d))


@operation("GET", "/mdm/declarations/", "mdm.view_declaration", query=PageQuery, response=[DeclarationOut],
           paginated=True)
def declaration_list(s, query: PageQuery):
    """Declaration versions."""
    return paginate_list([_out(d) for d in svc.list_declarations(s)], query), 200


@operation("POST", "/mdm/declarations/", "mdm.add_declaration", body=DeclarationIn, response=DeclarationOut,
           status=201)
def declaration_create(s, body: DeclarationIn):
    """A new declaration version of an artifact; the devices concerned are pushed."""
    return _out(svc.save_declaration(s, runtime(), body.model_dump())), 201


@operation("GET", "/mdm/declarations/<uuid:version_id>/", "mdm.view_declaration", response=DeclarationOut)
def declaration_detail(s, version_id):
    """One declaration version (``id`` is the artifact version's)."""
    return _out(svc.get_declaration(s, str(version_id))), 200


@operation("PUT", "/mdm/declarations/<uuid:version_id>/", "mdm.change_declaration", body=DeclarationIn,
           response=DeclarationOut)
def declaration_update(s, version_id, body: DeclarationIn):
    """Update a declaration version; a new content gets a new ServerToken and the devices sync it."""
    return _out(svc.save_declaration(s, runtime(), body.model_dump(), str(version_id))), 200


@operation("DELETE", "/mdm/declarations/<uuid:version_id>/", "mdm.delete_declaration", status=204,
           extra={"responses": refusal("a device has this version")})
def declaration_delete(s, version_id):
    """Delete a declaration version no device has."""
    svc.delete_declaration(s, runtime(), str(version_id))
    return None, 204


@operation("GET", "/mdm/devices/<int:device_id>/declarations/", "mdm.view_enrolleddevice",
           response=[DeviceDeclaration])
def device_declaration_list(s, device_id: int):
    """What the device last reported of each declaration (DDM status). Espalier's own route."""
    device_svc.get_device(s, device_id)
    return [dump(DeviceDeclaration, d) for d in convergence_status.device_declarations(s, device_id)], 200
