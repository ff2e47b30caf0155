"""What every request passes before a view, and how failures become statuses.

Hostile input never reaches the database as a 500: path integers beyond the database's
integer range do not match a route (404), NUL characters in the path or query are refused
(400; PostgreSQL cannot store them), and a body over the limit is drained before its 413
so the client reads the answer instead of a connection reset. A database that cannot be
reached answers 503 with Retry-After, not 500. Anything else unexpected is a bug: logged
with its traceback, answered 500.
"""
from __future__ import annotations

import logging
import time

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from espalier.db import unavailable as database_unavailable
from espalier.web.masking import mask

log = logging.getLogger(__name__)

DB_INT_MAX = 2**31 - 1  # PostgreSQL integer: what every id column is
DRAIN_MAX = 64 * 1024 * 1024  # read and drop at most this much of a refused body...
DRAIN_SECONDS = 10.0  # ...for at most this long
RETRY_AFTER = "30"


class DbIntConverter(IntegerConverter):
    """``<int:id>`` that matches only ids the database can hold (a larger one is a 404)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)


def install(app: Flask) -> None:
    """Before the blueprints register: the converter applies to the rules they bring."""
    app.url_map.converters["int"] = DbIntConverter
    app.before_request(_refuse_hostile_request)
    app.after_request(_finish_body)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _answer(status: int, detail: str, headers: dict | None = None) -> Response:
    if _is_api():
        from espalier.web.api import error_response

        return error_response(status, detail, headers=headers)
    return Response(detail + "\n", status, headers=headers, mimetype="text/plain")


def _refuse_hostile_request():
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        return _too_large(None)
    if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)):
        return _answer(400, "NUL characters are not allowed in the path or query")
    return None


def drain_body() -> bool:
    """Read and drop what is left of the body (bounded); True when it was all read."""
    stream = request.environ.get("wsgi.input")
    if stream is None:
        return True
    deadline, read = time.monotonic() + DRAIN_SECONDS, 0
    try:
        while read < DRAIN_MAX and time.monotonic() < deadline:
            chunk = stream.read(64 * 1024)
            if not chunk:
                return True
            read += len(chunk)
    except (OSError, ValueError):
        pass
    return False


def _finish_body(response: Response) -> Response:
    """Read what a view left of the body, so the connection can carry the next request.

    A route that takes no body (block, cancel, DELETE) never reads it; the server would then
    drop the connection under a client that reuses it. Past the drain bounds, say ``close``.
    """
    if request.content_length and not drain_body():
        response.headers["Connection"] = "close"
    return response


def _too_large(_exc):
    complete = drain_body()
    response = _answer(413, f"request body larger than {request.max_content_length} bytes")
    if not complete:
        response.headers["Connection"] = "close"
    return response


def _http_error(exc: HTTPException):
    if not _is_api():
        return exc
    if isinstance(exc, MethodNotAllowed):
        return _method_not_allowed() if _some_route_matches(exc.valid_methods or ()) else _answer(404, "Not found.")
    if isinstance(exc, NotFound):
        return _answer(404, "Not found.")
    return _answer(exc.code or 500, exc.description or exc.name)


def _some_route_matches(methods) -> bool:
    """werkzeug says 405 when a route's pattern matched but its converter refused the value
    (an id beyond the database's range): that is a 404, whatever the method."""
    from flask import current_app
    from werkzeug.exceptions import HTTPException as _Any

    adapter = current_app.url_map.bind_to_environ(request.environ)
    for method in methods:
        try:
            adapter.match(method=method)
            return True
        except _Any:
            continue
    return False


def _method_not_allowed():
    """As DRF: the token is checked first (a POST to a read-only route without one is a 401)."""
    from espalier.web import runtime
    from espalier.web.api import ApiError, authenticate, error_response

    try:
        with runtime().db.session() as s, s.begin():
            authenticate(s)
    except ApiError as exc:
        return error_response(exc.status, exc.detail, headers=exc.headers)
    return _answer(405, f'Method "{request.method}" not allowed.')


def _unexpected(exc: Exception):
    if database_unavailable(exc):
        log.warning("database unavailable on %s %s: %s", request.method, mask(request.path),
                    str(exc).splitlines()[0][:200])
        return _answer(503, "the database is unavailable; retry later", {"Retry-After": RETRY_AFTER})
    log.exception("unhandled error on %s %s", request.method, mask(request.path))
    return _answer(500, "internal error; the server log has the details")
