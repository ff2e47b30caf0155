"""DEP enrollments: create, update, delete, define at Apple, assign devices, and what their URL serves.

A DEP enrollment is Apple's enrollment profile (defined with ``POST /profile``, whose answer
names it: ``profile_uuid``) and what Espalier does with the devices that come through it.
Apple's profiles cannot be changed: every change to a field Apple holds defines a new
profile, and the devices assigned to the old one are assigned again (a tracked task).

The profile's ``url`` carries the enrollment's secret; what the device is comes from its
MachineInfo (``mdm/ade.py``), signed by Apple's device CA and checked against the devices
ABM gave this enrollment's virtual server.
"""
from __future__ import annotations

import base64
import hashlib
import secrets as pysecrets
from typing import Any

from cryptography.hazmat.primitives import serialization
from sqlalchemy import exists, select, true
from sqlalchemy.orm import Session, joinedload

from espalier.apple.abm import ABMError
from espalier.mdm import ade
from espalier.mdm import enrollment as profiles
from espalier.mdm.attestation import AttestationError
from espalier.mdm.blocking import is_blocked
from espalier.models import (Blueprint, DEPDevice, DEPEnrollment, DEPToken, DEPVirtualServer, EnrolledDevice,
                             PushCertificate, utcnow)
from espalier.pki import cms
from espalier.pki.secrets import SecretBox
from espalier.services.errors import NotFound, ServiceError

from .dep_tokens import ClientFactory, credentials

ASSIGN_BATCH = 1000  # Apple's limit of serials per profile assignment
# The fields of Apple's profile JSON that are columns of the same name.
APPLE_FIELDS = ("is_supervised", "is_mandatory", "is_mdm_removable", "is_multi_user", "await_device_configured",
                "auto_advance_setup", "skip_setup_items", "language", "region", "department", "org_magic",
                "support_phone_number", "support_email_address")
NULLABLE = {"blueprint", "admin_full_name", "admin_short_name"}


class Refused(ServiceError):
    """What the ADE enrollment URL answers a device it will not enroll (Zentral: 400)."""


class UpdateRequired(Exception):
    """The device must update its OS first: the 403 body Apple's Setup Assistant reads."""

    def __init__(self, body: dict):
        super().__init__(body["details"]["OSVersion"])
        self.body = body


def enroll_url(base_url: str, secret: str) -> str:
    """The ``url`` of Apple's profile: where the device posts its MachineInfo."""
    return f"{base_url}/public/mdm/dep_enrollments/{secret}/enroll/"


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def get(s: Session, enrollment_id: int) -> DEPEnrollment:
    enrollment = s.get(DEPEnrollment, enrollment_id)
    if enrollment is None:
        raise NotFound("No DEPEnrollment matches the given query.")
    return enrollment


def list_all(s: Session, name: str | None = None) -> list[DEPEnrollment]:
    stmt = select(DEPEnrollment).order_by(DEPEnrollment.id)
    if name is not None:
        stmt = stmt.where(DEPEnrollment.name == name)
    return list(s.scalars(stmt))


def reveal_secret(box: SecretBox, e: DEPEnrollment) -> str:
    return box.open_str(e, "secret")


def apple_profile(e: DEPEnrollment, url: str, anchors: list) -> dict:
    """Apple's profile JSON (PROTOCOL.md section 7); ``anchors``: certificates for anchor_certs."""
    profile: dict[str, Any] = {"profile_name": e.display_name or e.name, "url": url}
    for name in APPLE_FIELDS:
        value = getattr(e, name)
        if value not in ("", None):
            profile[name] = value
    if e.allow_pairing:
        profile["allow_pairing"] = True
    if e.include_tls_certificates and anchors:
        profile["anchor_certs"] = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
                                   for c in anchors]
    return profile


# -- create, update, delete ------------------------------------------------------------------

def create(s: Session, rt, data: dict[str, Any], make_client: ClientFactory) -> DEPEnrollment:
    secret = pysecrets.token_urlsafe(24)
    e = DEPEnrollment(secret_hash=secret_hash(secret), skip_setup_items=[])
    _apply(s, e, data, creating=True)
    s.add(e)
    s.flush()
    rt.secrets.seal(e, "secret", secret)
    _define(s, rt, e, secret, make_client)
    s.flush()
    return e


def update(s: Session, rt, enrollment_id: int, data: dict[str, Any], make_client: ClientFactory) -> DEPEnrollment:
    e = get(s, enrollment_id)
    before = _apple_state(e)
    _apply(s, e, data, creating=False)
    s.flush()
    if _apple_state(e) != before or e.profile_uuid is None:
        old_uuid = e.profile_uuid
        _define(s, rt, e, reveal_secret(rt.secrets, e), make_client)
        if old_uuid is not None and old_uuid != e.profile_uuid:
            devices = list(s.scalars(select(DEPDevice).where(DEPDevice.enrollment_id == e.id,
                                                              DEPDevice.disowned_at.is_(None))))
            assign(s, rt, e, devices)
    return e


def delete(s: Session, enrollment_id: int) -> None:
    e = get(s, enrollment_id)
    if s.scalar(select(exists().where(EnrolledDevice.dep_enrollment_id == e.id))):
        raise ServiceError("in use: devices are enrolled through it", ["This DEP enrollment cannot be deleted"])
    s.execute(DEPVirtualServer.__table__.update().where(DEPVirtualServer.default_enrollment_id == e.id)
              .values(default_enrollment_id=None))
    s.delete(e)


def _apple_state(e: DEPEnrollment) -> tuple:
    return (e.name, e.display_name, e.virtual_server_id, e.allow_pairing, e.include_tls_certificates,
            *(getattr(e, name) if name != "skip_setup_items" else tuple(e.skip_setup_items or ())
              for name in APPLE_FIELDS))


def _apply(s: Session, e: DEPEnrollment, fields: dict[str, Any], *, creating: bool) -> None:
    """Set the validated ``fields`` (web/api/schemas.DEPEnrollmentIn) and check what needs the database."""
    errors: dict[str, list[str]] = {}
    for name in ("name", "push_certificate", "virtual_server"):
        if creating and fields.get(name) is None:
            errors[name] = ["This field is required."]
    with s.no_autoflush:
        for name, model in (("push_certificate", PushCertificate), ("blueprint", Blueprint),
                            ("virtual_server", DEPVirtualServer)):
            pk = fields.get(name)
            if pk is not None and s.get(model, pk) is None:
                errors[name] = [f'Invalid pk "{pk}" - object does not exist.']
        if fields.get("name") and s.scalar(select(DEPEnrollment.id).where(
                DEPEnrollment.name == fields["name"], DEPEnrollment.id != e.id if e.id else true())):
            errors["name"] = ["dep enrollment with this name already exists."]
    if not creating and fields.get("virtual_server") not in (None, e.virtual_server_id):
        errors["virtual_server"] = ["The virtual server of a DEP enrollment cannot be changed."]
    attributes = {"push_certificate": "push_certificate_id", "blueprint": "blueprint_id",
                  "virtual_server": "virtual_server_id"}
    for name, value in fields.items():
        if name not in errors and (value is not None or name in NULLABLE):
            setattr(e, attributes.get(name, name), value)
    if creating and not fields.get("display_name") and e.name:
        e.display_name = e.name
    if e.is_mdm_removable is False and e.is_supervised is False:
        errors.setdefault("is_mdm_removable", []).append("Can only be set to False if 'Is supervised' is set to True")
    if bool(e.admin_full_name) != bool(e.admin_short_name):
        missing = "admin_short_name" if e.admin_full_name else "admin_full_name"
        errors.setdefault(missing, []).append("Required when creating an admin account")
    if errors:
        raise ServiceError("invalid DEP enrollment: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()),
                           errors)


def _client(s: Session, rt, server_id: int, make_client: ClientFactory):
    server = s.get(DEPVirtualServer, server_id)
    token = s.get(DEPToken, server.token_id) if server is not None and server.token_id else None
    if token is None or not token.has_credentials:
        raise ServiceError("the virtual server has no server token",
                           {"virtual_server": ["This virtual server has no server token."]})
    return make_client(credentials(rt.secrets, token))


def _define(s: Session, rt, e: DEPEnrollment, secret: str, make_client: ClientFactory) -> None:
    """Define the profile at Apple; Apple's refusal is the operator's 400 and nothing is stored."""
    profile = apple_profile(e, enroll_url(rt.settings.base_url, secret), rt.settings.tls_chain)
    client = _client(s, rt, e.virtual_server_id, make_client)
    try:
        answer = client.define_profile(profile)
    except ABMError as exc:
        raise ServiceError(f"Apple refused the profile: {exc.code}",
                           {"non_field_errors": [f"Apple refused the profile: {exc.code} {exc}".strip()]}) from None
    finally:
        client.close()
    uuid = answer.get("profile_uuid") if isinstance(answer, dict) else None
    if not isinstance(uuid, str) or not uuid or len(uuid) > 64:
        raise ServiceError("Apple's answer has no profile_uuid", {"non_field_errors": ["Apple's answer has no "
                                                                                      "profile_uuid"]})
    e.profile_uuid, e.defined_at, e.define_error = uuid, utcnow(), None


# -- assignment ---------------------------------------------------------------------------------

def assign(s: Session, rt, e: DEPEnrollment, devices: list[DEPDevice]) -> str | None:
    """Assign ``devices`` to ``e`` at Apple in one deferred task (batches of 1,000). The task id."""
    serials = sorted({d.serial_number for d in devices if d.virtual_server_id == e.virtual_server_id})
    if not serials:
        return None
    from espalier.tasks import dep as dep_tasks
    task = rt.queue.defer(s, dep_tasks.assign_devices, e.id, serials, name="dep_assign_devices")
    return task.id if task is not None else None


def record_assignment(s: Session, enrollment: DEPEnrollment, profile_uuid: str, results: dict[str, str]) -> dict:
    """Apple's per-serial answers of one batch: the devices Apple took now point at the enrollment."""
    counts = {"success": 0, "failed": 0, "throttled": 0}
    now = utcnow()
    for device in s.scalars(select(DEPDevice).where(DEPDevice.serial_number.in_(list(results)))):
        status = results.get(device.serial_number)
        if status == "SUCCESS":
            device.enrollment_id, device.profile_uuid = enrollment.id, profile_uuid
            device.profile_status, device.profile_assign_time = "assigned", now
            counts["success"] += 1
        elif status == "THROTTLED":
            counts["throttled"] += 1
        else:
            counts["failed"] += 1
    return counts


def unassigned_devices(s: Session, server_id: int) -> list[DEPDevice]:
    """The server's devices ABM holds no profile for (the default enrollment takes them)."""
    return list(s.scalars(select(DEPDevice).where(
        DEPDevice.virtual_server_id == server_id, DEPDevice.disowned_at.is_(None),
        DEPDevice.last_op_type.is_distinct_from("deleted"),
        (DEPDevice.profile_uuid.is_(None)) | (DEPDevice.profile_status.in_(("empty", "removed")))
        | (DEPDevice.profile_status.is_(None)))))


def assign_default(s: Session, rt, server_id: int) -> str | None:
    """After a sync: the new devices go to the server's default enrollment (one task for all)."""
    server = s.get(DEPVirtualServer, server_id)
    if server is None or server.default_enrollment_id is None:
        return None
    enrollment = s.get(DEPEnrollment, server.default_enrollment_id)
    if enrollment is None or enrollment.profile_uuid is None:
        return None
    return assign(s, rt, enrollment, unassigned_devices(s, server_id))


def set_default(s: Session, server: DEPVirtualServer, enrollment_id: int | None) -> None:
    if enrollment_id is not None:
        e = s.get(DEPEnrollment, enrollment_id)
        if e is None:
            raise ServiceError("unknown enrollment", {"default_enrollment": [
                f'Invalid pk "{enrollment_id}" - object does not exist.']})
        if e.virtual_server_id != server.id:
            raise ServiceError("another server's enrollment", {"default_enrollment": [
                "This DEP enrollment belongs to another virtual server."]})
    server.default_enrollment_id = enrollment_id


# -- what the enrollment URL serves ----------------------------------------------------------

def _by_secret(s: Session, secret: str) -> DEPEnrollment:
    e = s.scalar(select(DEPEnrollment).where(DEPEnrollment.secret_hash == secret_hash(secret))
                 .options(joinedload(DEPEnrollment.push_certificate)))
    if e is None:
        raise Refused("unknown secret")
    return e


def enrollment_profile(s: Session, rt, secret: str, machine_info: bytes, *, signed: bool = True) -> bytes:
    """The enrollment profile for the device whose signed MachineInfo this is: verified, known
    from ABM for this enrollment's server, not blocked, on an OS the enrollment accepts.
    Raises Refused, UpdateRequired or AttestationError."""
    e = _by_secret(s, secret)
    machine = ade.verify_machine_info(machine_info, rt.settings.apple_device_ca_chain)
    if is_blocked(s, machine.udid, machine.serial_number):
        raise Refused("Device blocked")
    known = s.scalar(select(DEPDevice.id).where(
        DEPDevice.serial_number == machine.serial_number, DEPDevice.virtual_server_id == e.virtual_server_id,
        DEPDevice.disowned_at.is_(None), DEPDevice.last_op_type.is_distinct_from("deleted")))
    if known is None:
        raise Refused("this serial number is not a device of this enrollment's ABM server")
    required = ade.required_update(s, e, machine, utcnow().date())
    if required is not None:
        raise UpdateRequired(required)
    token, challenge = profiles.open_dep_session(s, e, machine.udid, machine.serial_number, utcnow())
    body = profiles.build_profile(e, e.push_certificate, token, challenge, None,
                                  profiles.Urls(rt.settings.base_url), rt.settings.mdm["mtls_proxy"])
    if not signed:
        return body
    ca = rt.ca.get(s)
    return cms.sign_attached(body, ca.certificate, ca.key)


__all__ = ["AttestationError", "Refused", "UpdateRequired", "enroll_url", "enrollment_profile"]
