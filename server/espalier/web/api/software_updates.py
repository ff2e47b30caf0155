"""/api/mdm/software_updates/ (Apple's catalogue) and /api/mdm/software_update_enforcements/."""
from __future__ import annotations

from espalier.models import utcnow
from espalier.services import software_update_enforcements as enforcements
from espalier.services import software_updates as catalogue
from espalier.tasks import software_updates as sync_tasks
from espalier.validation import char
from espalier.web import runtime

from . import operation, refusal
from .pagination import NameQuery, PageQuery, paginate_list
from .schemas import (DeviceBelowTarget, SoftwareUpdate, SoftwareUpdateEnforcement, SoftwareUpdateEnforcementIn,
                      TaskRef, software_update, software_update_enforcement, task_ref)


class SoftwareUpdateQuery(PageQuery):
    platform: char(64, allow_blank=True) = None


@operation("POST", "/mdm/software_updates/sync/", "mdm.add_softwareupdate", "mdm.change_softwareupdate",
           "mdm.delete_softwareupdate", response=TaskRef, status=201)
def software_updates_sync(s):
    """Sync the catalogue from Apple's feed, as a background task."""
    return task_ref(sync_tasks.start_sync(s, runtime().queue)), 201


@operation("GET", "/mdm/software_updates/", "mdm.view_softwareupdate", query=SoftwareUpdateQuery,
           response=[SoftwareUpdate], paginated=True)
def software_update_list(s, query: SoftwareUpdateQuery):
    """The catalogue (newest first per platform); filter ``platform``. Espalier's own route."""
    return paginate_list([software_update(su, ids) for su, ids in catalogue.list_all(s, query.platform or None)],
                         query), 200


def _enforcements(s, rows: list) -> list[dict]:
    tags = enforcements.tag_ids(s, [e.id for e in rows])
    return [software_update_enforcement(e, tags.get(e.id, [])) for e in rows]


@operation("GET", "/mdm/software_update_enforcements/", "mdm.view_softwareupdateenforcement", query=NameQuery,
           response=[SoftwareUpdateEnforcement], paginated=True)
def software_update_enforcement_list(s, query: NameQuery):
    """Software update enforcements; filter ``name``."""
    return paginate_list(_enforcements(s, enforcements.list_all(s, query.name or None)), query), 200


@operation("POST", "/mdm/software_update_enforcements/", "mdm.add_softwareupdateenforcement",
           body=SoftwareUpdateEnforcementIn, response=SoftwareUpdateEnforcement, status=201)
def software_update_enforcement_create(s, body: SoftwareUpdateEnforcementIn):
    """Create an enforcement: ``os_version`` by ``local_datetime``, or ``max_os_version`` (latest)."""
    return _enforcements(s, [enforcements.save(s, body.model_dump(exclude_unset=True))])[0], 201


@operation("GET", "/mdm/software_update_enforcements/<int:enforcement_id>/", "mdm.view_softwareupdateenforcement",
           response=SoftwareUpdateEnforcement)
def software_update_enforcement_detail(s, enforcement_id: int):
    """One enforcement."""
    return _enforcements(s, [enforcements.get(s, enforcement_id)])[0], 200


@operation("PUT", "/mdm/software_update_enforcements/<int:enforcement_id>/", "mdm.change_softwareupdateenforcement",
           body=SoftwareUpdateEnforcementIn, response=SoftwareUpdateEnforcement)
def software_update_enforcement_update(s, enforcement_id: int, body: SoftwareUpdateEnforcementIn):
    """Update an enforcement; the fields of the other mode are cleared."""
    return _enforcements(s, [enforcements.update(s, runtime(), body.model_dump(exclude_unset=True),
                                                 enforcement_id)])[0], 200


@operation("DELETE", "/mdm/software_update_enforcements/<int:enforcement_id>/",
           "mdm.delete_softwareupdateenforcement", status=204,
           extra={"responses": refusal("a blueprint uses the enforcement")})
def software_update_enforcement_delete(s, enforcement_id: int):
    """Delete an enforcement that no blueprint lists."""
    enforcements.delete_one(s, enforcement_id)
    return None, 204


@operation("GET", "/mdm/software_update_enforcements/<int:enforcement_id>/devices/",
           "mdm.view_softwareupdateenforcement", "mdm.view_enrolleddevice", query=PageQuery,
           response=[DeviceBelowTarget], paginated=True)
def software_update_enforcement_devices(s, enforcement_id: int, query: PageQuery):
    """The devices the enforcement applies to whose OS is below its target, with their reported
    update state. Espalier's own route."""
    return paginate_list(enforcements.devices_below_target(s, enforcement_id, utcnow()), query), 200
