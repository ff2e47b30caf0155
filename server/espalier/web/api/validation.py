"""Strict JSON bodies and query parameters: unknown fields, wrong types and bad JSON are 400s."""
from __future__ import annotations

import re
from typing import Any

from flask import request

from espalier.web.guards import DB_INT_MAX

from . import ApiError

_INTEGER = re.compile(r"-?[0-9]{1,20}")


def json_body(allowed: set[str] | None = None) -> dict[str, Any]:
    """The request's JSON object (empty body = {}); reject anything else clearly."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = request.get_json(force=True, silent=False)
    except Exception:
        raise ApiError(400, "malformed JSON body") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the JSON body must be an object")
    if _has_nul(data):
        raise ApiError(400, "NUL characters are not allowed in the body")
    if allowed is not None:
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ApiError(400, f"unknown field(s): {', '.join(unknown)}", {k: ["unknown field"] for k in unknown})
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


def int_arg(name: str, default: int | None = None, minimum: int = 0, maximum: int = DB_INT_MAX) -> int | None:
    """An integer query parameter within what the database holds (ASCII digits only)."""
    value = request.args.get(name)
    if value is None or value == "":
        return default
    if not _INTEGER.fullmatch(value):
        raise ApiError(400, f"{name}: must be an integer", {name: ["must be an integer"]})
    number = int(value)
    if number < minimum or number > maximum:
        bound = f"between {minimum} and {maximum}"
        raise ApiError(400, f"{name}: must be {bound}", {name: [f"must be {bound}"]})
    return number


def reject_unknown_args(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise ApiError(400, f"unknown query parameter(s): {', '.join(unknown)}",
                       {k: ["unknown query parameter"] for k in unknown})
