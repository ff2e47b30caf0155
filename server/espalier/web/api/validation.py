"""Strict JSON bodies and query parameters: unknown fields, wrong types and bad JSON are 400s."""
from __future__ import annotations

from typing import Any

from flask import request

from . import ApiError


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
    if allowed is not None:
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ApiError(400, f"unknown field(s): {', '.join(unknown)}", {k: ["unknown field"] for k in unknown})
    return data


def int_arg(name: str, default: int | None = None, minimum: int = 0, maximum: int | None = None) -> int | None:
    value = request.args.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ApiError(400, f"{name}: must be an integer", {name: ["must be an integer"]}) from None
    if number < minimum or (maximum is not None and number > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ApiError(400, f"{name}: must be {bound}", {name: [f"must be {bound}"]})
    return number


def reject_unknown_args(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise ApiError(400, f"unknown query parameter(s): {', '.join(unknown)}",
                       {k: ["unknown query parameter"] for k in unknown})
