"""The Flask application factory: settings in, app out. Nothing happens at import."""
from __future__ import annotations

import logging

from flask import Flask, request
from werkzeug.exceptions import HTTPException

from espalier import runtime as runtime_mod
from espalier.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, runtime: runtime_mod.Runtime | None = None, check_migrated: bool = True) -> Flask:
    """The app for ``settings``; ``runtime`` is built from them unless given (tests share one)."""
    rt = runtime or runtime_mod.build(settings)
    if check_migrated:
        rt.db.check_migrated()
    app = Flask("espalier")
    app.config.update(MAX_CONTENT_LENGTH=settings.mdm["max_body_bytes"])
    app.json.sort_keys = False  # keep the documented field order
    app.extensions["espalier"] = rt

    from espalier.web import api, device, health

    api.register(app)
    device.register(app)
    health.register(app)
    _register_errors(app)
    return app


def _register_errors(app: Flask) -> None:
    from espalier.web.api import error_response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path.startswith("/api/"):
            return error_response(exc.code or 500, exc.description or exc.name)
        return exc

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if request.path.startswith("/api/"):
            return error_response(500, "internal error; the server log has the details")
        return "internal error\n", 500, {"Content-Type": "text/plain"}
