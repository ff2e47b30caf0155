"""The operator API under /api/: Zentral's paths, DRF's answers, one decorator per operation.

A view is ``def view(s, **url_args, body=..., query=...) -> (data, status)``. ``operation``
registers it with its permissions and its request and response shapes (which the OpenAPI
document is made from, ``openapi.py``), authenticates the ``Authorization: Token <key>``
header, checks the permissions, validates the query and the body with DRF's rules
(``espalier.validation``), runs the view in one transaction and serialises the answer.
Errors have DRF's shapes: field errors at the top level, anything else ``{"detail": ...}``.
"""
from __future__ import annotations

import json as stdjson
import logging
from dataclasses import dataclass, field
from datetime import date, time
from functools import lru_cache, wraps
from typing import Any, Callable

import orjson
from flask import Blueprint, Response, current_app, g, json, request

from espalier.services import audit as audit_svc
from espalier.services import auth
from espalier.services.errors import ServiceError
from espalier.validation import Invalid, Schema, parse
from espalier.web import runtime as app_runtime

bp = Blueprint("api", __name__, url_prefix="/api", template_folder="templates")
log = logging.getLogger(__name__)

NOT_AUTHENTICATED = "Authentication credentials were not provided."
INVALID_TOKEN = "Invalid token."
PERMISSION_DENIED = "You do not have permission to perform this action."


class ApiError(Exception):
    def __init__(self, status: int, detail: str | None = None, errors: dict | None = None,
                 headers: dict | None = None):
        super().__init__(detail or str(errors))
        self.status, self.detail, self.errors, self.headers = status, detail, errors, headers or {}


def json_response(data, status: int = 200, headers: dict | None = None) -> Response:
    """``data`` as DRF renders it (compact UTF-8); orjson writes a page of 500 devices in a
    tenth of the stdlib's time. Dates and times are written here, as ``isoformat()`` writes
    them (the shapes leave them as they are: turning a page's into text first cost more than
    writing the page). What orjson refuses (an integer past 64 bits) goes to Flask's."""
    try:
        body = orjson.dumps(data)
    except TypeError:
        body = json.dumps(data, default=_flask_default)
    return Response(body, status=status, headers=headers, mimetype="application/json")


def _flask_default(value: Any) -> Any:
    """Flask's conversions, but dates and times as orjson writes them (Flask's: HTTP dates)."""
    return value.isoformat() if isinstance(value, (date, time)) else current_app.json.default(value)


def error_response(status: int, detail: str | None = None, errors: dict | None = None,
                   headers: dict | None = None) -> Response:
    """DRF's shapes: the field errors themselves, or ``{"detail": ...}``."""
    return json_response(errors if errors else {"detail": detail}, status, headers)


@dataclass
class Operation:
    method: str
    rule: str
    view: Callable
    permissions: tuple[str, ...]
    body: type[Schema] | list | None = None  # a Schema, or a list of them (the request is one of)
    query: type[Schema] | None = None
    response: Any = None  # a Schema, [Schema] (a list, or a page with limit), or None (no body)
    status: int = 200
    paginated: bool = False
    public: bool = False
    writes: bool = False  # a GET that stores something (an audited reveal): a read-write transaction
    extra: dict = field(default_factory=dict)  # OpenAPI additions (descriptions, error codes)


OPERATIONS: list[Operation] = []


def conflict(text: str) -> dict:
    """The OpenAPI addition for an operation that may answer 409 (the stored state forbids it)."""
    return {"409": {"description": text, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Detail"}}}}}


def refusal(text: str) -> dict:
    """The OpenAPI addition for a DELETE that DRF refuses with a bare list (ValidationError("..."))."""
    return {"400": {"description": text, "content": {"application/json": {"schema": {"anyOf": [
        {"type": "array", "items": {"type": "string"}}, {"$ref": "#/components/schemas/Detail"}]}}}}}


def _token_key() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "token" or not key.strip():
        raise ApiError(401, NOT_AUTHENTICATED, headers={"WWW-Authenticate": "Token"})
    return key.strip()


def authenticate(s, permissions: tuple[str, ...] = ()):
    """The caller for this request's token, or a 401; a 403 when it lacks a permission."""
    caller = auth.authenticate(s, _token_key(), permissions)
    if caller is None:
        raise ApiError(401, INVALID_TOKEN, headers={"WWW-Authenticate": "Token"})
    if caller.missing:
        raise ApiError(403, PERMISSION_DENIED)
    return caller


def request_json() -> Any:
    """The JSON body (an empty body is ``{}``), or DRF's 400 for malformed JSON."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = stdjson.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"JSON parse error - {str(exc)[:120]}") from None
    except RecursionError:
        raise ApiError(400, "JSON parse error - nested too deeply") from None
    if b"\\u0000" in raw and _has_nul(data):  # strict JSON has NUL only as this escape
        raise ApiError(400, "NUL characters are not allowed in the body")
    return data


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


@lru_cache(maxsize=None)
def _query_keys(model: type[Schema]) -> tuple[tuple[str, bool], ...]:
    """Each query parameter of ``model`` and whether it repeats (a list), worked out once."""
    return tuple((info.alias or name,
                  getattr(info.annotation, "__origin__", None) is list or "list[" in str(info.annotation))
                 for name, info in model.model_fields.items())


def _query_data(model: type[Schema]) -> dict:
    args = request.args
    return {key: args.getlist(key) if many else args.get(key) for key, many in _query_keys(model) if key in args}


def _run(op: Operation, kwargs: dict) -> Response:
    rt = app_runtime()
    reads = op.method == "GET" and not op.writes
    with (rt.db.reading() if reads else rt.db.transaction()) as s:
        g.caller = authenticate(s, op.permissions)
        if op.query is not None:
            kwargs["query"] = parse(op.query, _query_data(op.query), context=op.rule)
        if op.body is not None:
            data = request_json()
            kwargs["body"] = data if isinstance(op.body, list) else parse(op.body, data, context=op.rule)
        data, status = op.view(s, **kwargs)
    if status == 204:
        return Response(status=204)
    return json_response(data, status)


def operation(method: str, rule: str, *permissions: str, **options) -> Callable:
    """Register ``view`` as ``method rule`` needing ``permissions`` (all of them)."""
    def decorator(view: Callable) -> Callable:
        op = Operation(method, rule, view, permissions, **options)

        @wraps(view)
        def wrapper(**kwargs) -> Response:
            try:
                return _run(op, kwargs)
            except Invalid as exc:
                return error_response(400, errors=exc.errors)
            except ApiError as exc:
                return error_response(exc.status, exc.detail, exc.errors, exc.headers)
            except ServiceError as exc:
                return error_response(exc.status, exc.detail, exc.errors)

        wrapper.permissions = permissions  # read by tests that walk every route
        wrapper.operation = op
        OPERATIONS.append(op)
        bp.add_url_rule(rule, endpoint=view.__name__, view_func=wrapper, methods=[method])
        return wrapper
    return decorator


def caller_may(s, codename: str) -> bool:
    """Whether the calling token also holds ``codename`` (checked inside a view)."""
    return auth.has_permission(s, g.caller.token_id, codename)


def actor() -> audit_svc.Actor:
    """The calling token and its user, for a stored audit event."""
    return audit_svc.Actor(token_id=g.caller.token_id, user_id=g.caller.user_id)


def audit(s, action: str, object_type: str, object_id, **fields) -> None:
    """Record an operator action of the calling token (``services.audit``: a stored event in
    the request's transaction and a line of the espalier.audit log; never a secret in either)."""
    audit_svc.record(s, actor(), action, object_type, object_id, **fields)


def require(s, codename: str) -> None:
    if not caller_may(s, codename):
        raise ApiError(403, f"{PERMISSION_DENIED} ({codename})")


def register(app) -> None:
    from . import (artifacts, audit_events, blocked, blueprints, commands, declarations, dep,  # noqa: F401
                   dep_enrollments, devices, docs, enrollments, locations, push_certificates, security_configs,
                   software_updates, store_apps, tags, tasks)

    app.register_blueprint(bp)
