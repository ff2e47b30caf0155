"""OTA enrollments: create, update, delete, and hand out enrollment profiles."""
from __future__ import annotations

import hashlib
import secrets as pysecrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from espalier.mdm import enrollment as profiles
from espalier.models import Blueprint, OtaEnrollment, PushCertificate, utcnow
from espalier.pki import cms
from espalier.pki.secrets import SecretBox
from espalier.pki.store import device_ca
from espalier.mdm.lookup import is_blocked
from espalier.services.errors import NotFound, ServiceError

SECRET = "ota_enrollments.secret"
SCEP_CHALLENGE = "ota_enrollments.scep_challenge"
FIELDS = {"name", "display_name", "push_certificate", "blueprint", "identity_source", "scep_url", "scep_challenge",
          "reusable", "quota"}


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
    enrollment = OtaEnrollment(secret=box.encrypt(secret, SECRET), secret_hash=secret_hash(secret))
    _apply(s, box, enrollment, data, creating=True)
    s.add(enrollment)
    _flush_unique(s, enrollment)
    return enrollment


def update(s: Session, box: SecretBox, enrollment_id: int, data: dict[str, Any]) -> OtaEnrollment:
    enrollment = get(s, enrollment_id)
    _apply(s, box, enrollment, data, creating=False)
    _flush_unique(s, enrollment)
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


def _apply(s: Session, box: SecretBox, e: OtaEnrollment, data: dict[str, Any], *, creating: bool) -> None:
    errors: dict[str, list[str]] = {}

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
            e.scep_challenge = box.encrypt(ch, SCEP_CHALLENGE) if ch else None
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
    if errors:
        raise ServiceError("invalid OTA enrollment: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()),
                           errors)


def reveal_secret(box: SecretBox, e: OtaEnrollment) -> str:
    return box.decrypt_str(e.secret, SECRET)


def enrollment_profile(s: Session, box: SecretBox, database_key: str, settings, secret: str, *,
                       serial_number: str | None = None, udid: str | None = None,
                       signed: bool = True) -> bytes:
    """The .mobileconfig for an enrollment secret (a new enrollment session each time)."""
    e = s.scalar(select(OtaEnrollment).where(OtaEnrollment.secret_hash == secret_hash(secret)).with_for_update())
    if e is None:
        raise NotFound("unknown enrollment")
    if is_blocked(s, udid, serial_number):
        raise Forbidden("this device is blocked and cannot enroll")
    if not e.reusable:
        if e.secret_used_at is not None:
            raise Gone("this one-time enrollment link was already used")
        e.secret_used_at = utcnow()
    session, challenge = profiles.open_session(s, e, serial_number=serial_number, udid=udid)
    external = box.decrypt_str(e.scep_challenge, SCEP_CHALLENGE) if e.scep_challenge else None
    body = profiles.build_profile(e, e.push_certificate, session, challenge, external,
                                  profiles.Urls(settings.base_url), settings.mdm["mtls_proxy"])
    if not signed:
        return body
    ca = device_ca(s, box, database_key)
    return cms.sign_attached(body, ca.certificate, ca.key)
