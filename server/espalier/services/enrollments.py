"""OTA enrollments: create, update, delete, and hand out enrollment profiles."""
from __future__ import annotations

import hashlib
import secrets as pysecrets
from typing import Any

from sqlalchemy import bindparam, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from espalier.mdm import attestation
from espalier.mdm import enrollment as profiles
from espalier.mdm.blocking import is_blocked
from espalier.models import Blueprint, OtaEnrollment, PushCertificate, utcnow
from espalier.pki import cms
from espalier.pki.secrets import SecretBox
from espalier.services.errors import NotFound, ServiceError

NULLABLE = {"blueprint", "scep_url", "quota"}  # fields a null clears


class Forbidden(ServiceError):
    status = 403


class Gone(ServiceError):
    status = 410


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def get(s: Session, enrollment_id: int) -> OtaEnrollment:
    enrollment = s.get(OtaEnrollment, enrollment_id)
    if enrollment is None:
        raise NotFound("No OTAEnrollment matches the given query.")
    return enrollment


def list_all(s: Session, name: str | None = None) -> list[OtaEnrollment]:
    stmt = select(OtaEnrollment).order_by(OtaEnrollment.id)
    if name is not None:
        stmt = stmt.where(OtaEnrollment.name == name)
    return list(s.scalars(stmt))


def create(s: Session, box: SecretBox, data: dict[str, Any]) -> OtaEnrollment:
    secret = pysecrets.token_urlsafe(24)
    enrollment = OtaEnrollment(secret_hash=secret_hash(secret))
    pending_challenge = _apply(s, enrollment, data, creating=True)
    s.add(enrollment)
    _flush_unique(s, enrollment)
    box.seal(enrollment, "secret", secret)
    if pending_challenge is not None:
        box.seal(enrollment, "scep_challenge", pending_challenge)
    s.flush()  # the sealed columns: the row as answered is the row as stored
    return enrollment


def update(s: Session, box: SecretBox, enrollment_id: int, data: dict[str, Any]) -> OtaEnrollment:
    enrollment = get(s, enrollment_id)
    pending_challenge = _apply(s, enrollment, data, creating=False)
    _flush_unique(s, enrollment)
    if pending_challenge is not None:
        box.seal(enrollment, "scep_challenge", pending_challenge)
        s.flush()
    return enrollment


def delete(s: Session, enrollment_id: int) -> None:
    s.delete(get(s, enrollment_id))


def _flush_unique(s: Session, enrollment: OtaEnrollment) -> None:
    try:
        with s.begin_nested():
            s.flush()
    except IntegrityError:
        raise ServiceError(f"an OTA enrollment named {enrollment.name!r} already exists",
                           {"name": ["OTA enrollment with this name already exists."]}) from None


def _apply(s: Session, e: OtaEnrollment, fields: dict[str, Any], *, creating: bool) -> str | None:
    """Set the validated ``fields`` (web/api/schemas.OtaEnrollmentIn); check what needs the
    database; return the new SCEP challenge to seal ("" clears), if given."""
    errors: dict[str, list[str]] = {}
    for name in ("name", "push_certificate"):
        if creating and fields.get(name) is None:
            errors[name] = ["This field is required."]
    with s.no_autoflush:  # nothing of this request is written before it is checked
        for name, model in (("push_certificate", PushCertificate), ("blueprint", Blueprint)):
            pk = fields.get(name)
            if pk is not None and s.get(model, pk) is None:
                errors[name] = [f'Invalid pk "{pk}" - object does not exist.']
        if fields.get("name") and s.scalar(select(OtaEnrollment.id).where(
                OtaEnrollment.name == fields["name"], OtaEnrollment.id != e.id if e.id else true())):
            errors["name"] = ["OTA enrollment with this name already exists."]
    attributes = {"push_certificate": "push_certificate_id", "blueprint": "blueprint_id"}
    for name, value in fields.items():
        if name != "scep_challenge" and name not in errors and (value is not None or name in NULLABLE):
            setattr(e, attributes.get(name, name), value)
    if creating and not fields.get("display_name") and e.name:
        e.display_name = e.name
    e.identity_source = e.identity_source or "builtin"
    if e.identity_source == "external" and not e.scep_url:
        errors.setdefault("scep_url", []).append("This field is required with an external identity source.")
    if errors:
        raise ServiceError("invalid OTA enrollment: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()),
                           errors)
    challenge = fields.get("scep_challenge")
    return (challenge or "") if "scep_challenge" in fields else None


def reveal_secret(box: SecretBox, e: OtaEnrollment) -> str:
    return box.open_str(e, "secret")


# The profile names the push topic: it comes in the same statement (not the push key). Built
# once: building its loader options per request cost more than running it.
_BY_SECRET = (select(OtaEnrollment).where(OtaEnrollment.secret_hash == bindparam("secret_hash"))
              .options(joinedload(OtaEnrollment.push_certificate).load_only(PushCertificate.topic))
              .with_for_update(of=OtaEnrollment))


def _by_secret(s: Session, secret: str) -> OtaEnrollment:
    e = s.scalar(_BY_SECRET, {"secret_hash": secret_hash(secret)})
    if e is None:
        raise NotFound("unknown enrollment")
    return e


def _mobileconfig(s: Session, rt, e: OtaEnrollment, token: str, challenge: str | None, signed: bool) -> bytes:
    external = rt.secrets.open_str(e, "scep_challenge")
    body = profiles.build_profile(e, e.push_certificate, token, challenge, external,
                                  profiles.Urls(rt.settings.base_url), rt.settings.mdm["mtls_proxy"])
    return _sign(s, rt, body) if signed else body


def _sign(s: Session, rt, body: bytes) -> bytes:
    ca = rt.ca.get(s)
    return cms.sign_attached(body, ca.certificate, ca.key)


def enrollment_profile(s: Session, rt, secret: str, *, serial_number: str | None = None, udid: str | None = None,
                       signed: bool = True) -> bytes:
    """What an enrollment link serves (a new enrollment session each time): the profile
    service payload when the enrollment wants attestation, else the enrollment profile."""
    e = _by_secret(s, secret)
    if is_blocked(s, udid, serial_number):
        raise Forbidden("this device is blocked and cannot enroll")
    if not e.reusable:
        if e.secret_used_at is not None:
            raise Gone("this one-time enrollment link was already used")
        e.secret_used_at = utcnow()
    if e.attestation == "apple":
        challenge = profiles.open_attestation_session(s, e)
        body = attestation.profile_service_payload(
            e.display_name, "Espalier", f"{rt.settings.base_url}/public/enroll/{secret}/attest/", challenge,
            f"com.espalier.mdm.enrollment.{e.id}.attestation")
        return _sign(s, rt, body) if signed else body
    token, challenge = profiles.open_session(s, e, serial_number=serial_number, udid=udid)
    return _mobileconfig(s, rt, e, token, challenge, signed)


def attested_enrollment_profile(s: Session, rt, secret: str, signed_attributes: bytes, *,
                                signed: bool = True) -> bytes:
    """Profile service phase 2: verify the device's signed attributes, then the enrollment
    profile whose SCEP challenge yields a certificate for that UDID only."""
    e = _by_secret(s, secret)
    if e.attestation != "apple":
        raise NotFound("this enrollment does not use attestation")
    attrs = attestation.verify_device_attributes(signed_attributes, rt.settings.apple_device_ca_chain)
    if is_blocked(s, attrs.udid, attrs.serial_number):
        raise Forbidden("this device is blocked and cannot enroll")
    attested = profiles.attest_session(s, e, attrs.udid, attrs.serial_number, attrs.challenge, utcnow())
    if attested is None:
        raise Forbidden("unknown or already used attestation challenge: download the enrollment profile again")
    token, challenge = attested
    return _mobileconfig(s, rt, e, token, challenge, signed)
