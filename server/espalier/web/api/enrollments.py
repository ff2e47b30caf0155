"""/api/mdm/ota_enrollments/: OTA enrollments with their secret and enrollment URL."""
from __future__ import annotations

from espalier.models import OtaEnrollment
from espalier.permissions import ENROLLMENT_SECRETS
from espalier.services import enrollments as svc
from espalier.validation import char
from espalier.web import runtime

from . import caller_may, operation
from .pagination import PageQuery, paginate_list
from .schemas import OtaEnrollment as OtaEnrollmentOut
from .schemas import OtaEnrollmentIn, ota_enrollment


class EnrollmentQuery(PageQuery):
    name: char(256, allow_blank=True) = None


def serialize(s, e: OtaEnrollment) -> dict:
    """With the enrollment's secret and link only for tokens allowed to enroll devices."""
    rt = runtime()
    secret = svc.reveal_secret(rt.secrets, e) if caller_may(s, ENROLLMENT_SECRETS) else None
    return ota_enrollment(e, secret, rt.settings.base_url)


def _fields(body: OtaEnrollmentIn) -> dict:
    return body.model_dump(exclude_unset=True)


@operation("GET", "/mdm/ota_enrollments/", "mdm.view_otaenrollment", query=EnrollmentQuery,
           response=[OtaEnrollmentOut], paginated=True)
def ota_enrollment_list(s, query: EnrollmentQuery):
    """OTA enrollments; filter ``name``."""
    return paginate_list([serialize(s, e) for e in svc.list_all(s, query.name or None)], query), 200


@operation("POST", "/mdm/ota_enrollments/", "mdm.add_otaenrollment", body=OtaEnrollmentIn,
           response=OtaEnrollmentOut, status=201)
def ota_enrollment_create(s, body: OtaEnrollmentIn):
    """Create an OTA enrollment; the answer holds its secret and enrollment URL."""
    return serialize(s, svc.create(s, runtime().secrets, _fields(body))), 201


@operation("GET", "/mdm/ota_enrollments/<int:enrollment_id>/", "mdm.view_otaenrollment", response=OtaEnrollmentOut)
def ota_enrollment_detail(s, enrollment_id: int):
    """One OTA enrollment."""
    return serialize(s, svc.get(s, enrollment_id)), 200


@operation("PUT", "/mdm/ota_enrollments/<int:enrollment_id>/", "mdm.change_otaenrollment", body=OtaEnrollmentIn,
           response=OtaEnrollmentOut)
def ota_enrollment_update(s, enrollment_id: int, body: OtaEnrollmentIn):
    """Update an OTA enrollment (the secret stays)."""
    return serialize(s, svc.update(s, runtime().secrets, enrollment_id, _fields(body))), 200


@operation("DELETE", "/mdm/ota_enrollments/<int:enrollment_id>/", "mdm.delete_otaenrollment", status=204)
def ota_enrollment_delete(s, enrollment_id: int):
    """Delete an OTA enrollment (enrolled devices stay enrolled)."""
    svc.delete(s, enrollment_id)
    return None, 204
