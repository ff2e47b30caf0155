"""The OpenAPI 3.1 document of the operator API, made from the registered operations.

Every route registers itself with ``api.operation`` together with the pydantic models
that validate its query and body and the model of its answer; this module turns that
registry into the document (JSON Schema 2020-12, as OpenAPI 3.1 uses), so the document
cannot drift from what the server enforces.
"""
from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from . import OPERATIONS, Operation

REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")

DETAIL = {"$ref": REF.format(model="Detail")}
FIELD_ERRORS = {"type": "object", "description": "DRF field errors: each field with its messages",
                "additionalProperties": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}]}}
VALIDATION = {"anyOf": [FIELD_ERRORS, DETAIL]}


class _Components:
    def __init__(self):
        self.schemas: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str = "validation") -> dict:
        """Request shapes in validation mode, answers in serialization mode (field names,
        never the ORM attribute a field is read from)."""
        if model.__name__ not in self.schemas:
            schema = model.model_json_schema(ref_template=REF, mode=mode)
            for name, definition in schema.pop("$defs", {}).items():
                self.schemas.setdefault(name, definition)
            self.schemas[model.__name__] = schema
        return {"$ref": REF.format(model=model.__name__)}


def _path(rule: str) -> tuple[str, list[dict]]:
    params = []
    for converter, name in _PARAM.findall(rule):
        schema = ({"type": "integer", "minimum": 0, "maximum": 2**31 - 1} if converter == "int"
                  else {"type": "string", "format": "uuid"} if converter == "uuid" else {"type": "string"})
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return "/api" + _PARAM.sub(r"{\2}", rule), params


def _query(model: type[BaseModel], components: _Components) -> list[dict]:
    schema = model.model_json_schema(ref_template=REF)
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = {k: v for k, v in prop.items() if k not in ("title", "default")}
        description = prop.pop("description", None)
        param = {"name": name, "in": "query", "required": name in schema.get("required", []), "schema": prop}
        if description:
            param["description"] = description
        out.append(param)
    return out


def _answer(op: Operation, components: _Components) -> dict:
    if op.response is None:
        return {"description": "no content"}
    if isinstance(op.response, list):
        item = components.ref(op.response[0], "serialization")
        listing = {"type": "array", "items": item}
        if op.paginated:
            page = {"type": "object", "required": ["count", "next", "previous", "results"], "properties": {
                "count": {"type": "integer"}, "next": {"type": ["string", "null"]},
                "previous": {"type": ["string", "null"]}, "results": listing}}
            schema: dict = {"oneOf": [listing, page], "description": "a list; a page object with `limit`"}
        else:
            schema = listing
    else:
        schema = components.ref(op.response, "serialization")
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


def _operation(op: Operation, components: _Components) -> dict:
    doc = (op.view.__doc__ or "").strip()
    summary, _, description = doc.partition("\n")
    permissions = ", ".join(op.permissions) or "any valid token"
    out: dict[str, Any] = {
        "operationId": op.view.__name__, "summary": summary,
        "description": (description.strip() + "\n\n" if description.strip() else "") + f"Permissions: {permissions}.",
        "tags": [op.rule.strip("/").split("/")[1] if op.rule.startswith("/mdm/") else op.rule.strip("/").split("/")[0]],
        "x-permissions": list(op.permissions),
    }
    _, params = _path(op.rule)
    if op.query is not None:
        params = params + _query(op.query, components)
    if params:
        out["parameters"] = params
    if op.body is not None:
        models = op.body if isinstance(op.body, list) else [op.body]
        refs = [components.ref(m) for m in models]
        schema = refs[0] if len(refs) == 1 else {"anyOf": refs, "description": "the fields depend on the device"}
        out["requestBody"] = {"required": False, "content": {"application/json": {"schema": schema}}}
    responses = {str(op.status): _answer(op, components)}
    if op.body is not None or op.query is not None or op.method != "GET":
        responses["400"] = {"description": "invalid input", "content": {"application/json": {"schema": VALIDATION}}}
    if not op.public:
        for code, text in (("401", "no or an invalid token"), ("403", "the token lacks a permission")):
            responses[code] = {"description": text, "content": {"application/json": {"schema": DETAIL}}}
    if "<" in op.rule:
        responses["404"] = {"description": "not found", "content": {"application/json": {"schema": DETAIL}}}
    responses.update(op.extra.get("responses", {}))
    out["responses"] = responses
    if not op.public:
        out["security"] = [{"Token": []}]
    return out


def document(base_url: str, version: str) -> dict:
    from .schemas import Detail, DryRun

    components = _Components()
    components.ref(Detail)
    components.ref(DryRun, "serialization")  # named by the dry-run answers of the command routes
    paths: dict[str, dict] = {}
    for op in sorted(OPERATIONS, key=lambda o: o.rule):
        path, _ = _path(op.rule)
        paths.setdefault(path, {})[op.method.lower()] = _operation(op, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Espalier MDM API", "version": version,
                 "description": "Zentral's MDM API (paths, fields, permissions, DRF error shapes), and "
                                "Espalier's additions. Authenticate with `Authorization: Token <key>`."},
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {"schemas": components.schemas, "securitySchemes": {"Token": {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": "`Token <key>`, as DRF's TokenAuthentication"}}},
    }
