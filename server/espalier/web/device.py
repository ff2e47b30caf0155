"""Device-facing endpoints: check-in, connect, enrollment profiles, SCEP. Thin by design.

Each view reads the body, resolves the caller's certificate, makes one ``mdm`` call in one
transaction, and writes the answer. ``mdm.errors`` become statuses only here.
"""
from __future__ import annotations

import json
import logging
import threading

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from espalier.mdm import checkin, connect, identity
from espalier.mdm.context import Context
from espalier.mdm.errors import MDMError, PayloadTooLarge
from espalier.mdm.messages import parse_plist
from espalier.pki import ca as ca_lib
from espalier.pki import scep
from espalier.pki.issuance import handle_pki_operation
from espalier.pki.store import device_ca
from espalier.services import enrollments, notify
from espalier.services.errors import ServiceError

bp = Blueprint("device", __name__)
log = logging.getLogger(__name__)
_trust_lock = threading.Lock()


def _runtime():
    return current_app.extensions["espalier"]


def _trust(rt, s) -> identity.TrustStore:
    store = current_app.extensions.get("espalier.trust")
    if store is None:
        with _trust_lock:
            chain_pem = rt.settings.mdm["scep_ca_fullchain"]
            external = ca_lib.load_pem_chain(chain_pem) if chain_pem else []
            store = identity.TrustStore(device_ca(s, rt.secrets, rt.db.url).certificate, external)
            current_app.extensions["espalier.trust"] = store
    return store


def _body() -> bytes:
    try:
        return request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise PayloadTooLarge("body too large") from None


def _mdm_error(exc: MDMError) -> Response:
    log.warning("%s %s refused (%s): %s", request.method, request.path, exc.status, exc.reason)
    if exc.status == 403:
        body = {"code": "com.apple.unrecognized.device", "description": exc.reason}
        return Response(json.dumps(body), 403, mimetype="application/json")
    return Response(exc.reason + "\n", exc.status, mimetype="text/plain")


def _handle(handler) -> Response:
    rt = _runtime()
    try:
        body = _body()
        msg = parse_plist(body)
        with rt.db.session() as s, s.begin():
            ident = _trust(rt, s).verify(identity.certificate_from_request(request.headers, body,
                                                                           rt.settings.mdm["mtls_proxy"]))
            ctx = Context(s=s, secrets=rt.secrets, inventory_interval=rt.settings.mdm["inventory_interval"],
                          user_channels=rt.settings.mdm["user_channels"], database_key=rt.db.url)
            answer = handler(ctx, msg, ident)
            if ctx.pushes:
                notify.devices_after_commit(s, sorted(ctx.pushes))
    except MDMError as exc:
        return _mdm_error(exc)
    if not answer:
        return Response(b"", 200)
    return Response(answer, 200, mimetype="application/xml")


def _route(msg_handler):
    """Check-ins and connects may share a URL: route on the content type, then on the body."""
    def view():
        ctype = request.mimetype
        if ctype == "application/x-apple-aspen-mdm-checkin":
            return _handle(checkin.handle)
        if ctype == "application/x-apple-aspen-mdm":
            return _handle(connect.connect)
        return _handle(lambda ctx, msg, ident: (checkin.handle if "MessageType" in msg else connect.connect)(
            ctx, msg, ident))
    view.__name__ = msg_handler
    view.__doc__ = f"MDM {msg_handler}: PUT a plist message, get a plist answer (or an empty 200)."
    return view


bp.add_url_rule("/mdm/checkin", view_func=_route("checkin"), methods=["PUT"])
bp.add_url_rule("/mdm/connect", view_func=_route("connect"), methods=["PUT"])


@bp.get("/public/enroll/<secret>/")
def enrollment_profile(secret: str):
    """The enrollment .mobileconfig (signed; ``?unsigned=1`` for tools)."""
    rt = _runtime()
    if len(secret) > 128:
        return Response("unknown enrollment\n", 404, mimetype="text/plain")
    serial = request.args.get("serial_number") or None
    udid = request.args.get("udid") or None
    try:
        with rt.db.session() as s, s.begin():
            body = enrollments.enrollment_profile(
                s, rt.secrets, rt.db.url, rt.settings, secret, serial_number=serial, udid=udid,
                signed=request.args.get("unsigned") not in ("1", "true", "yes"))
    except ServiceError as exc:
        return Response(exc.detail + "\n", exc.status, mimetype="text/plain")
    return Response(body, 200, headers={"Content-Disposition": 'attachment; filename="espalier.mobileconfig"'},
                    mimetype="application/x-apple-aspen-config")


@bp.route("/scep/<name>", methods=["GET", "POST"])
def scep_endpoint(name: str):
    """SCEP (RFC 8894): GetCACaps, GetCACert, PKIOperation over GET and POST."""
    rt = _runtime()
    operation = request.args.get("operation")
    if name != "espalier":
        return Response("unknown CA\n", 404, mimetype="text/plain")
    try:
        with rt.db.session() as s, s.begin():
            ca = device_ca(s, rt.secrets, rt.db.url)
            if operation == "GetCACaps":
                body, ctype = scep.get_ca_caps()
            elif operation == "GetCACert":
                body, ctype = scep.get_ca_cert(ca.certificate)
            elif operation == "PKIOperation":
                if request.method == "POST":
                    der = _body()
                    if not der and request.args.get("message"):
                        der = scep.decode_message_param(request.args["message"])
                else:
                    der = scep.decode_message_param(request.args.get("message", ""))
                body = handle_pki_operation(s, ca, der, rt.settings.mdm["scep_cert_validity_days"])
                ctype = "application/x-pki-message"
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
