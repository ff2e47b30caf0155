"""The operator API under /api/: token auth and permission checks in one decorator.

A view is ``def view(s, **url_args) -> (data, status)``; the decorator authenticates
the ``Authorization: Token <key>`` header, checks the permissions, runs the view in one
transaction and serialises the answer. Typed errors become statuses here and nowhere else.
"""
from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import Blueprint, Response, g, json, request

from espalier.services import auth
from espalier.services.errors import ServiceError
from espalier.web import runtime as app_runtime

bp = Blueprint("api", __name__, url_prefix="/api")


class ApiError(Exception):
    def __init__(self, status: int, detail: str, errors: dict | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.detail, self.errors, self.headers = status, detail, errors, headers or {}


def json_response(data, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=headers, mimetype="application/json")


def error_response(status: int, detail: str, errors: dict | None = None, headers: dict | None = None) -> Response:
    body = {"detail": detail}
    if errors:
        body["errors"] = errors
    return json_response(body, status, headers)


def _token_key() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "token" or not key.strip():
        raise ApiError(401, "authentication required: send 'Authorization: Token <key>'",
                       headers={"WWW-Authenticate": "Token"})
    return key.strip()


def api_view(*permissions: str) -> Callable:
    """Authenticate, authorise (every listed permission), run in one transaction, serialise."""
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(**kwargs) -> Response:
            rt = app_runtime()
            try:
                key = _token_key()
                with rt.db.session() as s:
                    with s.begin():
                        caller = auth.authenticate(s, key, permissions)
                        if caller is None:
                            raise ApiError(401, "invalid or revoked token", headers={"WWW-Authenticate": "Token"})
                        if caller.missing:
                            raise ApiError(403, f"permission denied: this token lacks {', '.join(caller.missing)}")
                        g.caller = caller
                        data, status = view(s, **kwargs)
            except ApiError as exc:
                return error_response(exc.status, exc.detail, exc.errors, exc.headers)
            except ServiceError as exc:
                return error_response(exc.status, exc.detail, exc.errors)
            if status == 204:
                return Response(status=204)
            return json_response(data, status)
        wrapper.permissions = permissions  # read by tests that walk every route
        return wrapper
    return decorator


def caller_may(s, codename: str) -> bool:
    """Whether the calling token also holds ``codename`` (checked inside a view)."""
    return auth.has_permission(s, g.caller.token_id, codename)


def require(s, codename: str) -> None:
    if not caller_may(s, codename):
        raise ApiError(403, f"permission denied: this token lacks {codename}")


def register(app) -> None:
    from . import commands, devices, enrollments, push_certificates, tasks  # noqa: F401  (routes attach to bp)

    app.register_blueprint(bp)
