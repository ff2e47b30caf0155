"""The console: server-rendered pages under /console/ for operators who look before they act.

Login with a password (argon2id, ``espalier user set-password``) or an API token; either way
the session holds one token id and every page checks that token's permissions, as the API
does. Every form carries the session's CSRF token; the session cookie is HttpOnly,
SameSite=Lax and Secure when the base URL is https. Views are thin: services do the work.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import wraps

from flask import Blueprint, Flask, abort, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from espalier.services import auth

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates", static_folder="static")
DENIED = "You do not have permission to perform this action."


class _ConsoleSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with no work for a request that carries no session
    cookie: every device check-in would otherwise build the cookie signer for nothing."""

    def open_session(self, app, request):
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def register(app: Flask) -> None:
    from espalier.web.console import views  # noqa: F401  (routes)

    rt = app.extensions["espalier"]
    app.secret_key = hmac.new(rt.settings["secret_keys"][0].encode(), b"espalier console session",
                              hashlib.sha256).hexdigest()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=rt.settings.base_url.startswith("https://"),
                      SESSION_COOKIE_NAME="espalier_console", SESSION_COOKIE_PATH="/console")
    app.session_interface = _ConsoleSessions()
    app.register_blueprint(bp)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@bp.app_context_processor
def _template_globals():
    return {"csrf_token": csrf_token, "can": lambda codename: codename in g.get("permissions", ())}


@bp.before_request
def _check_csrf():
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
            return render_template("message.html", title="Form expired",
                                   message="The form was not sent by this session (CSRF check): reload and retry."), 400
    return None


def login_required(*codenames: str):
    """The view needs a logged-in token holding ``codenames``; loads ``g.permissions``."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            from espalier.web import runtime

            token_id = session.get("token_id")
            if token_id is None:
                return redirect(url_for("console.login", next=request.full_path))
            with runtime().db.session() as s:
                perms = auth.active_permissions(s, token_id)
            if perms is None:  # revoked since, or the user was deactivated
                session.clear()
                return redirect(url_for("console.login"))
            g.permissions, g.user = perms, session.get("user")
            if any(c not in perms for c in codenames):
                return render_template("message.html", title="Permission denied", message=DENIED), 403
            return view(*args, **kwargs)
        return wrapper
    return decorate


def require(codename: str) -> None:
    """Within a view: stop with the permission page unless the token holds ``codename``."""
    if codename not in g.permissions:
        abort(403)


@bp.errorhandler(403)
def _denied(_exc):
    return render_template("message.html", title="Permission denied", message=DENIED), 403


@bp.errorhandler(404)
def _missing(_exc):
    return render_template("message.html", title="Not found", message="No such page or device."), 404
