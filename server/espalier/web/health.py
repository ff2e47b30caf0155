"""Liveness: answers without touching the database (load balancers, benchmarks' baseline)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Process is up."""
    return "ok\n", 200, {"Content-Type": "text/plain"}


def register(app) -> None:
    app.register_blueprint(bp)
