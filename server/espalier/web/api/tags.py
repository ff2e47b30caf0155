"""/api/inventory/tags/, /api/inventory/machines/tags/ (Zentral's inventory app) and a machine's tags."""
from __future__ import annotations

from espalier.services import fanout
from espalier.services import tags as svc
from espalier.web import runtime

from . import operation
from .pagination import NameQuery, paginate_list
from .schemas import MachineTags, MachineTagsIn, MachineTagsResult, Tag, TagIn, dump


@operation("GET", "/inventory/tags/", "inventory.view_tag", query=NameQuery, response=[Tag], paginated=True)
def tag_list(s, query: NameQuery):
    """Tags; filter ``name``."""
    return paginate_list([dump(Tag, t) for t in svc.list_all(s, query.name or None)], query), 200


@operation("POST", "/inventory/tags/", "inventory.add_tag", body=TagIn, response=Tag, status=201)
def tag_create(s, body: TagIn):
    """Create a tag."""
    return dump(Tag, svc.save(s, body.model_dump(exclude_unset=True))), 201


@operation("GET", "/inventory/tags/<int:tag_id>/", "inventory.view_tag", response=Tag)
def tag_detail(s, tag_id: int):
    """One tag."""
    return dump(Tag, svc.get(s, tag_id)), 200


@operation("PUT", "/inventory/tags/<int:tag_id>/", "inventory.change_tag", body=TagIn, response=Tag)
def tag_update(s, tag_id: int, body: TagIn):
    """Update a tag."""
    return dump(Tag, svc.save(s, body.model_dump(exclude_unset=True), tag_id)), 200


@operation("DELETE", "/inventory/tags/<int:tag_id>/", "inventory.delete_tag", status=204)
def tag_delete(s, tag_id: int):
    """Delete a tag: machines lose it, scopes forget it; the devices concerned are pushed."""
    serials = svc.delete_tag(s, tag_id)
    fanout.push_serials(s, runtime(), serials)
    return None, 204


@operation("POST", "/inventory/machines/tags/", "inventory.add_tag", "inventory.add_taxonomy",
           "inventory.add_machinetag", "inventory.delete_machinetag", body=MachineTagsIn, response=MachineTagsResult)
def machine_tags_update(s, body: MachineTagsIn):
    """Add, remove or set the tags of machines by serial number; the devices are pushed (scopes follow tags)."""
    result = svc.update_machine_tags(s, body.serial_numbers, [op.model_dump() for op in body.operations])
    fanout.push_serials(s, runtime(), body.serial_numbers)
    return result, 200


@operation("GET", "/inventory/machines/<serial_number>/tags/", "inventory.view_machinetag", response=MachineTags)
def machine_tags(s, serial_number: str):
    """The tags of one machine (none for a serial number that has none), so a client can converge them."""
    return {"serial_number": serial_number, "tags": [dump(Tag, t) for t in svc.machine_tags(s, serial_number)]}, 200
