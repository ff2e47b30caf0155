"""/api/mdm/ota_enrollments/: OTA enrollments with their secret and enrollment URL."""
from __future__ import annotations

from flask import request

from espalier.models import OtaEnrollment
from espalier.services import enrollments as svc
from espalier.web import runtime

from espalier.permissions import ENROLLMENT_SECRETS

from . import api_view, bp, caller_may, serializers
from .pagination import paginate_list
from .validation import json_body, reject_unknown_args


def serialize(s, e: OtaEnrollment) -> dict:
    """With the enrollment's secret and link only for tokens allowed to enroll devices."""
    rt = runtime()
    secret = svc.reveal_secret(rt.secrets, e) if caller_may(s, ENROLLMENT_SECRETS) else None
    return serializers.ota_enrollment(e, secret, rt.settings.base_url)


@bp.get("/mdm/ota_enrollments/")
@api_view("mdm.view_otaenrollment")
def ota_enrollment_list(s):
    """OTA enrollments; filter ``name``."""
    reject_unknown_args({"name", "limit", "offset"})
    return paginate_list([serialize(s, e) for e in svc.list_all(s, request.args.get("name"))]), 200


@bp.post("/mdm/ota_enrollments/")
@api_view("mdm.add_otaenrollment")
def ota_enrollment_create(s):
    """Create an OTA enrollment; the answer holds its secret and enrollment URL."""
    return serialize(s, svc.create(s, runtime().secrets, json_body())), 201


@bp.get("/mdm/ota_enrollments/<int:enrollment_id>/")
@api_view("mdm.view_otaenrollment")
def ota_enrollment_detail(s, enrollment_id: int):
    """One OTA enrollment."""
    return serialize(s, svc.get(s, enrollment_id)), 200


@bp.put("/mdm/ota_enrollments/<int:enrollment_id>/")
@api_view("mdm.change_otaenrollment")
def ota_enrollment_update(s, enrollment_id: int):
    """Update an OTA enrollment (the secret stays)."""
    return serialize(s, svc.update(s, runtime().secrets, enrollment_id, json_body())), 200


@bp.delete("/mdm/ota_enrollments/<int:enrollment_id>/")
@api_view("mdm.delete_otaenrollment")
def ota_enrollment_delete(s, enrollment_id: int):
    """Delete an OTA enrollment (enrolled devices stay enrolled)."""
    svc.delete(s, enrollment_id)
    return None, 204
