"""Device-facing endpoints (check-in, connect, enrollment, SCEP). Filled by the protocol issue."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("device", __name__)


def register(app) -> None:
    app.register_blueprint(bp)
