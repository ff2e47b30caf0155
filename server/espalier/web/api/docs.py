"""/api/openapi.json and /api/docs/: the API describing itself (no token needed)."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from flask import Response, json, render_template

from espalier.web import runtime

from . import bp
from .openapi import document


def _version() -> str:
    try:
        return version("espalier-server")
    except PackageNotFoundError:
        return "0"


def _document() -> dict:
    rt = runtime()
    cached = getattr(rt, "_openapi", None)
    if cached is None:
        cached = document(rt.settings.base_url, _version())
        rt._openapi = cached  # routes are registered once per app: the document never changes
    return cached


@bp.get("/openapi.json")
def openapi_json():
    """The OpenAPI 3.1 document of this API."""
    return Response(json.dumps(_document()), mimetype="application/json")


@bp.get("/docs/")
def api_docs():
    """A readable reference made from the same document."""
    doc = _document()
    return render_template("api_docs.html", doc=doc, schemas=doc["components"]["schemas"])
