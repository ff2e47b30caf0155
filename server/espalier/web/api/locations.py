"""/api/mdm/locations/ and /api/mdm/location_assets/: Apps and Books locations and their assets.

The listings and the JSON are Zentral's (plus ``days_left`` and ``expiring``, as push
certificates have); uploading a token, the dry run, delete and sync are Espalier's own.
"""
from __future__ import annotations

from pydantic import Field

from espalier.services import apps_books as assets_svc
from espalier.services import locations as svc
from espalier.validation import Bool, Schema, char
from espalier.web import runtime

from . import ApiError, conflict, operation
from .pagination import PageQuery, paginate_list, paginated
from .schemas import (Location, LocationAsset, LocationDryRun, LocationIn, TaskRef, dump, location,
                      task_ref)

INVALID_CHOICE = "Select a valid choice. That choice is not one of the available choices."


class LocationQuery(PageQuery):
    name: char(256, allow_blank=True) = None
    organization_name: char(256, allow_blank=True) = None
    mdm_info_id: char(64, allow_blank=True) = None


class LocationUploadQuery(Schema):
    dry_run: Bool = Field(False, description="ask Apple for the location's config and say what the upload would "
                                             "do; change nothing here or at Apple (Espalier's)")


class LocationAssetQuery(PageQuery):
    adam_id: char(64, allow_blank=True) = None
    pricing_param: char(16, allow_blank=True) = None
    location_id: char(32, allow_blank=True) = None


@operation("GET", "/mdm/locations/", "mdm.view_location", query=LocationQuery, response=[Location], paginated=True)
def location_list(s, query: LocationQuery):
    """Apps and Books locations; filters ``name``, ``organization_name`` and ``mdm_info_id``."""
    items = svc.list_all(s, query.name or None, query.organization_name or None, query.mdm_info_id or None)
    return paginate_list([location(loc) for loc in items], query), 200


@operation("GET", "/mdm/locations/<int:location_id>/", "mdm.view_location", response=Location)
def location_detail(s, location_id: int):
    """One location."""
    return location(svc.get(s, location_id)), 200


_UPLOAD = {"responses": {"200": {"description": "renewed or unchanged; with dry_run, what the upload would do",
                                 "content": {"application/json": {"schema": {"anyOf": [
                                     {"$ref": "#/components/schemas/Location"},
                                     {"$ref": "#/components/schemas/LocationDryRun"}]}}}},
                         "503": {"description": "Apple's Apps and Books service did not answer", "content": {
                             "application/json": {"schema": {"$ref": "#/components/schemas/Detail"}}}},
                         **conflict("Apple refused, or another MDM server manages the location (force)")}}


def _upload(s, body: LocationIn, query: LocationUploadQuery, location_id: int | None = None):
    up = svc.upload(s, runtime(), body.server_token, location_id=location_id, force=body.force,
                    dry_run=query.dry_run)
    if query.dry_run:
        return {"dry_run": True, "action": up.action, "changed": up.action != "unchanged",
                "claimed_by": up.claimed_by, "location": _preview(up.location)}, 200
    return location(up.location), 201 if up.action == "created" else 200


def _preview(loc) -> dict:
    return dump(LocationDryRun.model_fields["location"].annotation, loc, id=loc.id or 0,
                days_left=loc.days_left(), expiring=loc.is_expiring())


@operation("POST", "/mdm/locations/", "mdm.add_location", "mdm.change_location", query=LocationUploadQuery,
           body=LocationIn, response=Location, status=201, extra=_UPLOAD)
def location_upload(s, body: LocationIn, query: LocationUploadQuery):
    """Upload a ``.vpptoken``: claim its location for this server and store it (201), or renew the
    location of the same library uid (200). Espalier's own route."""
    return _upload(s, body, query)


@operation("PUT", "/mdm/locations/<int:location_id>/", "mdm.change_location", query=LocationUploadQuery,
           body=LocationIn, response=Location, extra=_UPLOAD)
def location_renew(s, location_id: int, body: LocationIn, query: LocationUploadQuery):
    """Renew this location's token; a token of another location is refused. Espalier's own route."""
    return _upload(s, body, query, location_id)


@operation("DELETE", "/mdm/locations/<int:location_id>/", "mdm.delete_location", status=204)
def location_delete(s, location_id: int):
    """Forget a location, its asset counts and assignments (Apple keeps the licences). Espalier's own route."""
    svc.delete(s, location_id)
    return None, 204


@operation("POST", "/mdm/locations/<int:location_id>/sync/", "mdm.change_location", response=TaskRef, status=201)
def location_sync(s, location_id: int):
    """Sync the location's assets and assignments from Apple, as a tracked task. Espalier's own route."""
    return task_ref(assets_svc.queue_sync(s, runtime(), svc.get(s, location_id).id)), 201


@operation("GET", "/mdm/location_assets/", "mdm.view_locationasset", query=LocationAssetQuery,
           response=[LocationAsset], paginated=True)
def location_asset_list(s, query: LocationAssetQuery):
    """The assets of the locations, with their licence counts; filters ``adam_id``, ``pricing_param``
    and ``location_id``."""
    location_id = None
    if query.location_id:
        text = query.location_id.strip()
        if not (text.isascii() and text.isdigit()) or int(text) > 2**31 - 1 or not svc.exists(s, int(text)):
            raise ApiError(400, errors={"location_id": [INVALID_CHOICE]})
        location_id = int(text)
    items, count = assets_svc.list_location_assets(s, adam_id=query.adam_id or None,
                                                   pricing_param=query.pricing_param or None,
                                                   location_id=location_id, limit=query.limit,
                                                   offset=query.offset or 0)
    return paginated([dump(LocationAsset, la) for la in items], count, query.limit, query.offset), 200
