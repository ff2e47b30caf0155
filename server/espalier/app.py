"""The Flask application factory: settings in, app out. Nothing happens at import."""
from __future__ import annotations

from flask import Flask

from espalier import runtime as runtime_mod
from espalier.settings import Settings


def create_app(settings: Settings, *, runtime: runtime_mod.Runtime | None = None, check_migrated: bool = True) -> Flask:
    """The app for ``settings``; ``runtime`` is built from them unless given (tests share one)."""
    rt = runtime or runtime_mod.build(settings)
    if check_migrated:
        rt.db.check_migrated()
    app = Flask("espalier")
    app.config.update(MAX_CONTENT_LENGTH=settings.mdm["max_body_bytes"])
    app.json.sort_keys = False  # keep the documented field order
    app.extensions["espalier"] = rt

    from espalier.web import api, apps_books, console, device, guards, health

    guards.install(app)
    api.register(app)
    device.register(app)
    apps_books.register(app)
    health.register(app)
    console.register(app)
    return app

