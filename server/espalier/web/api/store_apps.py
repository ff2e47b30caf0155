"""/api/mdm/store_apps/: store app versions of Store App artifacts (Zentral's paths and
permissions: ``mdm.{view,add,change,delete}_storeapp``)."""
from __future__ import annotations

from espalier.services import store_apps as svc
from espalier.web import runtime

from . import operation, refusal
from .pagination import PageQuery, paginate_list
from .schemas import StoreAppIn, StoreAppOut, store_app


def _out(a) -> dict:
    return store_app(a, svc.configuration_text(runtime().secrets, a))


@operation("GET", "/mdm/store_apps/", "mdm.view_storeapp", query=PageQuery, response=[StoreAppOut], paginated=True)
def store_app_list(s, query: PageQuery):
    """Store app versions."""
    return paginate_list([_out(a) for a in svc.list_store_apps(s)], query), 200


@operation("POST", "/mdm/store_apps/", "mdm.add_storeapp", body=StoreAppIn, response=StoreAppOut, status=201)
def store_app_create(s, body: StoreAppIn):
    """A new store app version of a Store App artifact (an app of a location); the devices
    concerned are pushed."""
    return _out(svc.save_store_app(s, runtime(), body.model_dump())), 201


@operation("GET", "/mdm/store_apps/<uuid:version_id>/", "mdm.view_storeapp", response=StoreAppOut)
def store_app_detail(s, version_id):
    """One store app version (``id`` is the artifact version's)."""
    return _out(svc.get_store_app(s, str(version_id))), 200


@operation("PUT", "/mdm/store_apps/<uuid:version_id>/", "mdm.change_storeapp", body=StoreAppIn,
           response=StoreAppOut)
def store_app_update(s, version_id, body: StoreAppIn):
    """Update a store app version; new install options are sent again where it is installed."""
    return _out(svc.save_store_app(s, runtime(), body.model_dump(), str(version_id))), 200


@operation("DELETE", "/mdm/store_apps/<uuid:version_id>/", "mdm.delete_storeapp", status=204,
           extra={"responses": refusal("a device has this version, or a command for it is pending")})
def store_app_delete(s, version_id):
    """Delete a store app version no device has."""
    svc.delete_store_app(s, runtime(), str(version_id))
    return None, 204
