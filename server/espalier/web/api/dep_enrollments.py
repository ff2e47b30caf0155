"""/api/mdm/dep_enrollments/ (Zentral's), and the DEP device and virtual server updates that assign them.

Zentral's realms, ACME/SCEP issuers and enrollment secret scopes have no counterpart here:
their neutral values (what Terraform sends for an enrollment without them) are accepted,
anything else is a field error (README, compatibility table). Creating and updating define
the profile at Apple while answering, so the answer names Apple's ``profile_uuid``.
"""
from __future__ import annotations

from espalier.apple.abm import client_for
from espalier.mdm.softwareupdate import os_version_tuple
from espalier.models import DEPEnrollment
from espalier.permissions import ENROLLMENT_SECRETS
from espalier.services import dep_devices, dep_tokens
from espalier.services import dep_enrollments as svc
from espalier.validation import char
from espalier.web import runtime

from . import ApiError, audit, caller_may, operation
from .pagination import PageQuery, paginate_list
from .schemas import DEPDevice, DEPDeviceIn, DEPEnrollmentIn, DEPVirtualServer, DEPVirtualServerIn, dep_device
from .schemas import DEPEnrollment as DEPEnrollmentOut
from .schemas import dep_enrollment, dep_virtual_server

_UNSUPPORTED = {"use_realm_user": "Espalier authenticates no realm user.",
                "realm_user_is_admin": "Espalier authenticates no realm user.",
                "username_pattern": "Espalier authenticates no realm user.",
                "realm": "Espalier has no realms.", "acme_issuer": "Espalier issues with its built-in SCEP CA.",
                "scep_issuer": None}  # any SCEP issuer names Espalier's own CA


class EnrollmentQuery(PageQuery):
    name: char(256, allow_blank=True) = None


def _make_client(creds):
    return client_for(runtime().settings.mdm["abm"], creds)


def serialize(s, e: DEPEnrollment) -> dict:
    rt = runtime()
    secret = svc.reveal_secret(rt.secrets, e) if caller_may(s, ENROLLMENT_SECRETS) else None
    return dep_enrollment(e, secret, svc.enroll_url(rt.settings.base_url, secret) if secret else None)


def _fields(body: DEPEnrollmentIn) -> dict:
    data = body.model_dump(exclude_unset=True)
    errors: dict[str, list[str]] = {}
    for name, reason in _UNSUPPORTED.items():
        value = data.pop(name, None)
        if reason and value not in (None, False, ""):
            errors[name] = [reason]
    secret = data.pop("enrollment_secret", None) or {}
    for name in ("serial_numbers", "udids", "quota"):
        if secret.get(name) not in (None, []):
            errors.setdefault("enrollment_secret", []).append(f"{name}: Espalier's DEP enrollments take none "
                                                              "(ABM names the devices).")
    if secret.get("tags"):
        errors.setdefault("enrollment_secret", []).append("tags: not supported.")
    for name in ("admin_full_name", "admin_short_name"):
        if data.get(name) == "":
            data[name] = None
    for name in ("ios_min_version", "ios_max_version", "macos_min_version", "macos_max_version"):
        if data.get(name) and os_version_tuple(data[name]) is None:
            errors[name] = ["Not a valid OS version."]
    if errors:
        raise ApiError(400, errors=errors)
    return data


@operation("GET", "/mdm/dep_enrollments/", "mdm.view_depenrollment", query=EnrollmentQuery,
           response=[DEPEnrollmentOut], paginated=True)
def dep_enrollment_list(s, query: EnrollmentQuery):
    """DEP enrollments; filter ``name``."""
    return paginate_list([serialize(s, e) for e in svc.list_all(s, query.name or None)], query), 200


@operation("POST", "/mdm/dep_enrollments/", "mdm.add_depenrollment", body=DEPEnrollmentIn,
           response=DEPEnrollmentOut, status=201)
def dep_enrollment_create(s, body: DEPEnrollmentIn):
    """Create a DEP enrollment and define its profile at Apple."""
    e = svc.create(s, runtime(), _fields(body), _make_client)
    audit(s, "dep_enrollment_created", "depenrollment", e.id, profile_uuid=e.profile_uuid)
    return serialize(s, e), 201


@operation("GET", "/mdm/dep_enrollments/<int:enrollment_id>/", "mdm.view_depenrollment", response=DEPEnrollmentOut)
def dep_enrollment_detail(s, enrollment_id: int):
    """One DEP enrollment."""
    return serialize(s, svc.get(s, enrollment_id)), 200


@operation("PUT", "/mdm/dep_enrollments/<int:enrollment_id>/", "mdm.change_depenrollment", body=DEPEnrollmentIn,
           response=DEPEnrollmentOut)
def dep_enrollment_update(s, enrollment_id: int, body: DEPEnrollmentIn):
    """Update a DEP enrollment; a change Apple holds defines a new profile and assigns its devices again."""
    e = svc.update(s, runtime(), enrollment_id, _fields(body), _make_client)
    return serialize(s, e), 200


@operation("DELETE", "/mdm/dep_enrollments/<int:enrollment_id>/", "mdm.delete_depenrollment", status=204)
def dep_enrollment_delete(s, enrollment_id: int):
    """Delete a DEP enrollment (refused while devices are enrolled through it)."""
    svc.delete(s, enrollment_id)
    return None, 204


@operation("PUT", "/mdm/dep/virtual_servers/<int:server_id>/", "mdm.change_depvirtualserver",
           body=DEPVirtualServerIn, response=DEPVirtualServer)
def dep_virtual_server_update(s, server_id: int, body: DEPVirtualServerIn):
    """Espalier's: set (or clear) the enrollment new devices of this server are assigned after each sync."""
    server = dep_tokens.get_server(s, server_id)
    svc.set_default(s, server, body.default_enrollment)
    s.flush()
    return dep_virtual_server(server), 200


@operation("PUT", "/mdm/dep/devices/<int:device_id>/", "mdm.change_depdevice", body=DEPDeviceIn, response=DEPDevice)
def dep_device_update(s, device_id: int, body: DEPDeviceIn):
    """Assign a DEP enrollment's profile to the device (at Apple, in a task)."""
    device = dep_devices.get_device(s, device_id)
    e = s.get(DEPEnrollment, body.enrollment)
    if e is None:
        raise ApiError(400, errors={"enrollment": [f'Invalid pk "{body.enrollment}" - object does not exist.']})
    if e.virtual_server_id != device.virtual_server_id:
        raise ApiError(400, errors={"enrollment": ["The enrollment and the device belong to different virtual "
                                                   "servers."]})
    if e.profile_uuid is None:
        raise ApiError(400, errors={"enrollment": ["This enrollment is not defined at Apple."]})
    svc.assign(s, runtime(), e, [device])
    return dep_device(device), 200
