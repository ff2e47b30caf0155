"""Device-facing endpoints: check-in, connect, enrollment profiles, SCEP. Thin by design.

Each MDM view reads the bounded body, resolves the caller's certificate before parsing it
(an ``Mdm-Signature`` is verified over the raw bytes; a proxy certificate must chain to a
trusted CA), decodes the message, makes one ``mdm`` call in one transaction (a second one
only after a command result its handler could not process, ``connect.Unprocessable``) and
writes the answer. ``mdm.errors`` become statuses only here.
"""
from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from espalier.mdm import checkin, connect, ddm, identity, messages
from espalier.mdm.errors import MDMError, PayloadTooLarge
from espalier.mdm.scep import handle_pki_operation
from espalier.pki import scep
from espalier.services import dep_enrollments, enrollments, licences
from espalier.services.errors import ServiceError
from espalier.tasks.push import notify_after_commit
from espalier.web import runtime
from espalier.web.masking import mask

bp = Blueprint("device", __name__)
log = logging.getLogger(__name__)

CHECKIN_TYPE = "application/x-apple-aspen-mdm-checkin"
CONNECT_TYPE = "application/x-apple-aspen-mdm"


def _body() -> bytes:
    try:
        return request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise PayloadTooLarge("body too large") from None


def _mdm_error(exc: MDMError) -> Response:
    log.warning("%s %s refused (%s): %s", request.method, mask(request.path), exc.status, exc.reason)
    if exc.status == 403:
        body = {"code": "com.apple.unrecognized.device", "description": exc.reason}
        return Response(json.dumps(body), 403, mimetype="application/json")
    return Response(exc.reason + "\n", exc.status, mimetype="text/plain")


def _decoder():
    """Check-ins and connects may share a URL: route on the content type, then on the body."""
    if request.mimetype == CHECKIN_TYPE:
        return messages.decode_checkin
    if request.mimetype == CONNECT_TYPE:
        return messages.decode_report
    return messages.decode


def _mdm_view() -> Response:
    rt = runtime()
    try:
        body = _body()
        cert = identity.certificate_from_request(request.headers, body, rt.config.mtls_proxy)
        ident = rt.trust().verify(cert)
        msg = _decoder()(messages.parse_plist(body))
        handler = connect.connect if isinstance(msg, messages.Report) else checkin.handle
        try:
            answer = _in_transaction(rt, handler, msg, ident, None)
        except connect.Unprocessable as exc:  # rolled back: once more, the result kept unprocessed
            answer = _in_transaction(rt, handler, msg, ident, exc)
    except MDMError as exc:
        return _mdm_error(exc)
    if not answer:
        return Response(b"", 200)
    if isinstance(msg, messages.DeclarativeManagement):  # DDM answers are JSON
        return Response(answer, 200, mimetype="application/json")
    return Response(answer, 200, mimetype="application/xml")


def _in_transaction(rt, handler, msg, ident, unprocessable: connect.Unprocessable | None):
    with rt.db.session() as s, s.begin():
        ctx = rt.mdm_context(s)
        ctx.unprocessable = unprocessable
        answer = handler(ctx, msg, ident)
        notify_after_commit(s, rt.queue, ctx.pushes)
        licences.queue_requests(s, rt, ctx.licence_locations)
    return answer


def checkin_view():
    """MDM check-in: PUT a plist message, get a plist answer (or an empty 200)."""
    return _mdm_view()


def connect_view():
    """MDM connect: PUT a command report, get the next command (or an empty 200)."""
    return _mdm_view()


bp.add_url_rule("/mdm/checkin", view_func=checkin_view, methods=["PUT"])
bp.add_url_rule("/mdm/connect", view_func=connect_view, methods=["PUT"])


def _profile_response(body: bytes) -> Response:
    return Response(body, 200, headers={"Content-Disposition": 'attachment; filename="espalier.mobileconfig"'},
                    mimetype="application/x-apple-aspen-config")


def _is_identifier(value: str) -> bool:
    """A serial number or UDID the session can store (String(64)); printable refuses control
    and format characters (PostgreSQL refuses NUL; bidi overrides would mislead a reader)."""
    return len(value) <= 64 and value.isprintable()


@bp.get("/public/enroll/<secret>/")
def enrollment_profile(secret: str):
    """The enrollment .mobileconfig (signed; ``?unsigned=1`` for tools); with attestation, the
    profile service payload that asks the device to prove who it is first."""
    rt = runtime()
    if len(secret) > 128:
        return Response("unknown enrollment\n", 404, mimetype="text/plain")
    hints = {name: request.args.get(name) or None for name in ("serial_number", "udid")}
    if any(value is not None and not _is_identifier(value) for value in hints.values()):
        return Response("serial_number and udid must be at most 64 printable characters\n", 400,
                        mimetype="text/plain")
    try:
        with rt.db.session() as s, s.begin():
            body = enrollments.enrollment_profile(
                s, rt, secret, **hints, signed=request.args.get("unsigned") not in ("1", "true", "yes"))
    except ServiceError as exc:
        return Response(exc.detail + "\n", exc.status, mimetype="text/plain")
    return _profile_response(body)


@bp.get("/public/mdm/legacy_profiles/<token>/")
def legacy_profile(token: str):
    """The profile behind a ``com.apple.configuration.legacy`` declaration's ProfileURL."""
    rt = runtime()
    try:
        with rt.db.session() as s, s.begin():
            body = ddm.legacy_profile(rt.mdm_context(s), token)
    except MDMError as exc:
        return _mdm_error(exc)
    return _profile_response(body)


@bp.post("/public/enroll/<secret>/attest/")
def enrollment_attestation(secret: str):
    """Profile service phase 2: the device posts its attributes signed with its Apple-issued
    identity; the answer is the enrollment profile bound to the proven UDID and serial."""
    rt = runtime()
    try:
        body = _body()
        with rt.db.session() as s, s.begin():
            profile = enrollments.attested_enrollment_profile(
                s, rt, secret, body, signed=request.args.get("unsigned") not in ("1", "true", "yes"))
    except MDMError as exc:
        return _mdm_error(exc)
    except ServiceError as exc:
        return Response(exc.detail + "\n", exc.status, mimetype="text/plain")
    return _profile_response(profile)


@bp.post("/public/mdm/dep_enrollments/<secret>/enroll/")
def dep_enrollment(secret: str):
    """ADE: the device posts its MachineInfo signed by its Apple identity; the answer is the
    enrollment profile bound to that UDID, or Apple's 403 that makes it update its OS first."""
    rt = runtime()
    try:
        body = _body()
        if len(secret) > 128:
            raise dep_enrollments.Refused("unknown secret")
        with rt.db.session() as s, s.begin():
            profile = dep_enrollments.enrollment_profile(
                s, rt, secret, body, signed=request.args.get("unsigned") not in ("1", "true", "yes"))
    except dep_enrollments.UpdateRequired as exc:
        return Response(json.dumps(exc.body), 403, mimetype="application/json")
    except MDMError as exc:
        return _mdm_error(exc)
    except ServiceError as exc:
        return Response(exc.detail + "\n", exc.status, mimetype="text/plain")
    return _profile_response(profile)


@bp.route("/scep/<name>", methods=["GET", "POST"])
def scep_endpoint(name: str):
    """SCEP (RFC 8894): GetCACaps, GetCACert, PKIOperation over GET and POST."""
    rt = runtime()
    operation = request.args.get("operation")
    if name != "espalier":
        return Response("unknown CA\n", 404, mimetype="text/plain")
    try:
        if operation == "GetCACaps":
            body, ctype = scep.get_ca_caps()
        elif operation == "PKIOperation":
            if request.method == "POST":
                der = _body()
                if not der and request.args.get("message"):
                    der = scep.decode_message_param(request.args["message"])
            else:
                der = scep.decode_message_param(request.args.get("message", ""))
            with rt.db.session() as s, s.begin():
                body = handle_pki_operation(s, rt.ca.get(s), der, rt.config.scep_cert_validity_days)
            ctype = "application/x-pki-message"
        elif operation == "GetCACert":
            with rt.db.session() as s, s.begin():
                body, ctype = scep.get_ca_cert(rt.ca.get(s).certificate)
        else:
            return Response("unknown or missing operation\n", 400, mimetype="text/plain")
    except scep.SCEPError as exc:
        log.warning("SCEP %s refused: %s", operation, exc)
        return Response(f"bad SCEP message: {exc}\n", 400, mimetype="text/plain")
    except MDMError as exc:
        return _mdm_error(exc)
    resp = Response(body, 200)
    resp.headers["Content-Type"] = ctype  # exactly, no charset parameter
    return resp


def register(app) -> None:
    app.register_blueprint(bp)
