"""OTA enrollments: create, update, delete, and hand out enrollment profiles."""
from __future__ import annotations

import hashlib
import secrets as pysecrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from espalier.mdm import attestation
from espalier.mdm import enrollment as profiles
from espalier.mdm.blocking import is_blocked
from espalier.models import Blueprint, OtaEnrollment, PushCertificate, utcnow
from espalier.models.enrollments import ATTESTATIONS
from espalier.pki import cms
from espalier.pki.secrets import SecretBox
from espalier.services.errors import NotFound, ServiceError

FIELDS = {"name", "display_name", "push_certificate", "blueprint", "identity_source", "scep_url", "scep_challenge",
          "reusable", "quota", "attestation"}


class Forbidden(ServiceError):
    status = 403


class Gone(ServiceError):
    status = 410


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def get(s: Session, enrollment_id: int) -> OtaEnrollment:
    enrollment = s.get(OtaEnrollment, enrollment_id)
    if enrollment is None:
        raise NotFound(f"no OTA enrollment {enrollment_id}")
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
                           {"name": ["already exists"]}) from None


def _apply(s: Session, e: OtaEnrollment, data: dict[str, Any], *, creating: bool) -> str | None:
    """Validate and set the fields; returns the new SCEP challenge to seal ("" clears), if given."""
    errors: dict[str, list[str]] = {}
    challenge = None

    def bad(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    for field in sorted(set(data) - FIELDS):
        bad(field, "unknown field")
    if creating:
        for field in ("name", "push_certificate"):
            if field not in data:
                bad(field, "required")
    for field in ("name", "display_name"):
        if field in data:
            value = data[field]
            if not isinstance(value, str) or not value.strip() or len(value) > 256:
                bad(field, "must be a non-empty string of at most 256 characters")
            else:
                setattr(e, field, value.strip())
    if creating and not data.get("display_name") and isinstance(data.get("name"), str):
        e.display_name = data["name"].strip()
    if "push_certificate" in data:
        pc = data["push_certificate"]
        if not isinstance(pc, int) or isinstance(pc, bool) or s.get(PushCertificate, pc) is None:
            bad("push_certificate", "must be the id of a push certificate")
        else:
            e.push_certificate_id = pc
    if "blueprint" in data:
        bp = data["blueprint"]
        if bp is not None and (not isinstance(bp, int) or isinstance(bp, bool) or s.get(Blueprint, bp) is None):
            bad("blueprint", "must be the id of a blueprint, or null")
        else:
            e.blueprint_id = bp
    source = data.get("identity_source", e.identity_source or "builtin")
    if source not in ("builtin", "external"):
        bad("identity_source", "must be builtin or external")
    else:
        e.identity_source = source
    if "scep_url" in data:
        url = data["scep_url"]
        if url is not None and (not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 1024):
            bad("scep_url", "must be an http(s) URL")
        else:
            e.scep_url = url
    if "scep_challenge" in data:
        ch = data["scep_challenge"]
        if ch is not None and (not isinstance(ch, str) or len(ch) > 1024):
            bad("scep_challenge", "must be a string")
        else:
            challenge = ch or ""
    if source == "external" and not (e.scep_url and data.get("scep_url", e.scep_url)):
        bad("scep_url", "required with an external identity source")
    if "reusable" in data:
        if not isinstance(data["reusable"], bool):
            bad("reusable", "must be a boolean")
        else:
            e.reusable = data["reusable"]
    if "quota" in data:
        quota = data["quota"]
        if quota is not None and (not isinstance(quota, int) or isinstance(quota, bool) or quota < 1):
            bad("quota", "must be a positive integer or null")
        else:
            e.quota = quota
    if "attestation" in data:
        if data["attestation"] not in ATTESTATIONS:
            bad("attestation", f"must be one of {', '.join(ATTESTATIONS)}")
        else:
            e.attestation = data["attestation"]
    if errors:
        raise ServiceError("invalid OTA enrollment: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()),
                           errors)
    return challenge


def reveal_secret(box: SecretBox, e: OtaEnrollment) -> str:
    return box.open_str(e, "secret")


def _by_secret(s: Session, secret: str) -> OtaEnrollment:
    e = s.scalar(select(OtaEnrollment).where(OtaEnrollment.secret_hash == secret_hash(secret)).with_for_update())
    if e is None:
        raise NotFound("unknown enrollment")
    return e


def _mobileconfig(s: Session, rt, e: OtaEnrollment, session, challenge: str | None, signed: bool) -> bytes:
    external = rt.secrets.open_str(e, "scep_challenge")
    body = profiles.build_profile(e, e.push_certificate, session, challenge, external,
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
        session, challenge = profiles.open_attestation_session(s, e)
        body = attestation.profile_service_payload(
            e.display_name, "Espalier", f"{rt.settings.base_url}/public/enroll/{secret}/attest/", challenge,
            f"com.espalier.mdm.enrollment.{e.id}.attestation")
        return _sign(s, rt, body) if signed else body
    session, challenge = profiles.open_session(s, e, serial_number=serial_number, udid=udid)
    return _mobileconfig(s, rt, e, session, challenge, signed)


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
    session, challenge = attested
    return _mobileconfig(s, rt, e, session, challenge, signed)
