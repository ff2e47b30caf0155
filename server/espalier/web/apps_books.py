"""Apple's Apps and Books notifications: ``POST /public/mdm/locations/<mdm_info_id>/notify/``.

Anyone can reach this URL, so it is treated like a device endpoint: the caller must show
the notification auth token we gave Apple when claiming the location (``Authorization:
Bearer``; compared in constant time; 401 without one, 403 when wrong or for a location we
do not have), the body is bounded (413) and must be a notification (400); a notification
already handled (Apple retries) is answered 200 and not applied again. Zentral's path.
"""
from __future__ import annotations

import hmac
import json
import logging
import re

from flask import Blueprint, Response, request

from espalier.services import apps_books, locations
from espalier.web import runtime

bp = Blueprint("apps_books", __name__)
log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # a notification lists at most a few thousand assignments
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DUMMY = b"esp_nat_" + b"x" * 43  # compared when the location is unknown, to take the same time


def _text(status: int, text: str, headers: dict | None = None) -> Response:
    return Response(text + "\n", status, headers=headers, mimetype="text/plain")


def _bearer() -> bytes | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    if scheme != "Bearer" or not value or len(value) > 512:
        return None
    return value.encode("utf-8", "replace")


def _body() -> bytes | None:
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None
    data = request.stream.read(MAX_BODY + 1)
    return None if len(data) > MAX_BODY else data


@bp.post("/public/mdm/locations/<mdm_info_id>/notify/")
def notify_location(mdm_info_id: str):
    mdm_info_id = mdm_info_id.lower()
    if not _UUID.fullmatch(mdm_info_id):
        return _text(404, "not found")
    presented = _bearer()
    if presented is None:
        return _text(401, "a Bearer token is required", {"WWW-Authenticate": "Bearer"})
    rt = runtime()
    with rt.db.session() as s, s.begin():
        location = locations.by_mdm_info_id(s, mdm_info_id)
        expected = rt.secrets.open(location, "notification_auth_token") if location is not None else None
        if not hmac.compare_digest(presented, expected or _DUMMY) or expected is None:
            log.warning("Apps and Books notification for %s refused: unknown location or wrong token", mdm_info_id)
            return _text(403, "forbidden")
        raw = _body()
        if raw is None:
            return _text(413, f"notification larger than {MAX_BODY} bytes")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _text(400, "the body is not JSON")
        try:
            done = apps_books.handle_notification(s, rt, location, data)
        except apps_books.BadNotification as exc:
            log.warning("Apps and Books notification for location %r refused: %s", location.name, exc.detail)
            return _text(400, exc.detail)
        log.info("Apps and Books notification %s for location %r: %s", str(data.get("notificationType"))[:64],
                 location.name, done)
    return Response(b"", 200)


def register(app) -> None:
    app.register_blueprint(bp)
