"""/api/mdm/ota_enrollments/: OTA enrollments with their secret and enrollment URL."""
from __future__ import annotations

from flask import current_app, request

from espalier.models import OtaEnrollment
from espalier.services import enrollments as svc

from . import api_view, bp
from .serializers import dt
from .pagination import paginate_list
from .validation import json_body, reject_unknown_args


def serialize(e: OtaEnrollment) -> dict:
    rt = current_app.extensions["espalier"]
    secret = svc.reveal_secret(rt.secrets, e)
    return {
        "id": e.id, "name": e.name, "display_name": e.display_name, "push_certificate": e.push_certificate_id,
        "blueprint": e.blueprint_id, "identity_source": e.identity_source, "scep_url": e.scep_url,
        "reusable": e.reusable, "quota": e.quota, "secret": secret,
        "enroll_url": f"{rt.settings.base_url}/public/enroll/{secret}/",
        "secret_used_at": dt(e.secret_used_at), "created_at": dt(e.created_at), "updated_at": dt(e.updated_at),
    }


@bp.get("/mdm/ota_enrollments/")
@api_view("mdm.view_otaenrollment")
def ota_enrollment_list(s):
    """OTA enrollments; filter ``name``."""
    reject_unknown_args({"name", "limit", "offset"})
    return paginate_list([serialize(e) for e in svc.list_all(s, request.args.get("name"))]), 200


@bp.post("/mdm/ota_enrollments/")
@api_view("mdm.add_otaenrollment")
def ota_enrollment_create(s):
    """Create an OTA enrollment; the answer holds its secret and enrollment URL."""
    rt = current_app.extensions["espalier"]
    return serialize(svc.create(s, rt.secrets, json_body())), 201


@bp.get("/mdm/ota_enrollments/<int:enrollment_id>/")
@api_view("mdm.view_otaenrollment")
def ota_enrollment_detail(s, enrollment_id: int):
    """One OTA enrollment."""
    return serialize(svc.get(s, enrollment_id)), 200


@bp.put("/mdm/ota_enrollments/<int:enrollment_id>/")
@api_view("mdm.change_otaenrollment")
def ota_enrollment_update(s, enrollment_id: int):
    """Update an OTA enrollment (the secret stays)."""
    rt = current_app.extensions["espalier"]
    return serialize(svc.update(s, rt.secrets, enrollment_id, json_body())), 200


@bp.delete("/mdm/ota_enrollments/<int:enrollment_id>/")
@api_view("mdm.delete_otaenrollment")
def ota_enrollment_delete(s, enrollment_id: int):
    """Delete an OTA enrollment (enrolled devices stay enrolled)."""
    svc.delete(s, enrollment_id)
    return None, 204
