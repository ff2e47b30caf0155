"""What the built-in SCEP CA issues, and to whom: the protocol's policy over ``pki.scep``.

PKCSReq: the CSR's challenge must be an unused enrollment-session challenge; it is spent
by the issuance, in the same transaction that records the certificate, which also records
the UDID the session attested (the certificate then speaks for that device only).
RenewalReq: the request must be signed with a certificate we issued that is still valid;
the new one inherits its session and UDID and records which certificate it renews, so the
check-in accepts it in place of the old one. Blocked devices get neither.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from cryptography import x509
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from espalier.db import HotStatement
from espalier.models import EnrollmentSession, IssuedCertificate, utcnow
from espalier.pki import ca as ca_lib
from espalier.pki import scep
from espalier.pki.store import StoredCA

from . import blocking
from .enrollment import challenge_hash

log = logging.getLogger(__name__)

_SESSIONS, _ISSUED = EnrollmentSession.__table__.c, IssuedCertificate.__table__
# An issuance's two statements, on the driver's cursor (SQLAlchemy's per-statement work cost
# more than they do). One UPDATE ... RETURNING: two devices racing with one challenge cannot both win.
_SPEND = HotStatement(update(EnrollmentSession.__table__)
                      .where(_SESSIONS.challenge_hash == bindparam("hash"), _SESSIONS.challenge_used_at.is_(None))
                      .values(challenge_used_at=bindparam("now"), updated_at=bindparam("now"))
                      .returning(_SESSIONS.id, _SESSIONS.attested_udid, _SESSIONS.attested_serial_number))
_RECORD = HotStatement(insert(_ISSUED).inline().values(
    **{name: bindparam(name) for name in ("fingerprint", "serial", "subject", "enrollment_session_id",
                                        "renewed_fingerprint", "udid", "not_valid_after")},
    created_at=bindparam("now")))


def handle_pki_operation(s: Session, ca: StoredCA, der: bytes, validity_days: int) -> bytes:
    """Answer one PKIOperation with CertRep SUCCESS or FAILURE (never PENDING)."""
    request = scep.parse_pki_message(der, ca.certificate, ca.key)  # SCEPError -> 400 by the view
    if request.fail_info is not None:
        log.warning("SCEP %s refused: failInfo %s", request.transaction_id, request.fail_info)
        return scep.cert_rep_failure(request, request.fail_info, ca.certificate, ca.key)
    if request.message_type == scep.PKCS_REQ:
        session_id, udid, serial_number = _spend_challenge(s, request.challenge)
        renewed = None
        if session_id is not None and blocking.is_blocked(s, udid, serial_number):
            session_id = None
    elif request.message_type == scep.RENEWAL_REQ:
        session_id, renewed, udid = _renewal_session(s, ca, request.signer_cert)
    else:
        session_id = renewed = udid = None
    if session_id is None:
        return scep.cert_rep_failure(request, scep.FailInfo.BAD_REQUEST, ca.certificate, ca.key)
    try:
        cert = ca_lib.issue_certificate(ca.certificate, ca.key, request.csr, validity_days=validity_days)
    except ca_lib.CAError as exc:
        log.warning("SCEP %s: cannot issue: %s", request.transaction_id, exc)
        return scep.cert_rep_failure(request, scep.FailInfo.BAD_MESSAGE_CHECK, ca.certificate, ca.key)
    _RECORD.execute(s, {
        "fingerprint": ca_lib.fingerprint_sha256(cert), "serial": format(cert.serial_number, "x"),
        "subject": cert.subject.rfc4514_string()[:512], "enrollment_session_id": session_id,
        "renewed_fingerprint": renewed, "udid": udid, "not_valid_after": cert.not_valid_after_utc.replace(tzinfo=None),
        "now": utcnow()})
    return scep.cert_rep_success(request, cert, ca.certificate, ca.key, cipher=request.reply_cipher)


def _spend_challenge(s: Session, challenge: str | None) -> tuple[int | None, str | None, str | None]:
    """(session id, attested UDID, attested serial number) of the session whose challenge
    this spent; (None, None, None) when there is none to spend."""
    if not challenge:
        return None, None, None
    spent = _SPEND.one_or_none(s, {"hash": challenge_hash(challenge), "now": utcnow()})
    return tuple(spent) if spent else (None, None, None)


def _renewal_session(s: Session, ca: StoredCA, old: x509.Certificate) -> tuple[int | None, str | None, str | None]:
    try:
        ca_lib.verify_chain(old, [ca.certificate], at=datetime.now(timezone.utc))
    except ca_lib.CAError as exc:
        log.warning("SCEP renewal with an unusable certificate: %s", exc)
        return None, None, None
    fingerprint = ca_lib.fingerprint_sha256(old)
    issued = s.scalar(select(IssuedCertificate).where(IssuedCertificate.fingerprint == fingerprint))
    if issued is None or issued.enrollment_session_id is None:
        return None, None, None
    session = s.get(EnrollmentSession, issued.enrollment_session_id)
    if session and session.enrolled_device_id and blocking.is_device_blocked(s, session.enrolled_device_id):
        return None, None, None
    return issued.enrollment_session_id, fingerprint, issued.udid
