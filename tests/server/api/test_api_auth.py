"""Every /api/ route x (no token, token without the permission, token with it)."""
from __future__ import annotations

import re

import pytest

from espalier.app import create_app
from espalier.permissions import PERMISSIONS


def api_routes(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, "operation"):  # the API's own description: public
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path = re.sub(r"<int:[^>]+>", "1", rule.rule)
            path = re.sub(r"<[^>]+>", "00000000-0000-4000-8000-000000000000", path)
            yield method, path, view.permissions


def test_every_api_route_declares_known_permissions(app):
    routes = list(api_routes(app))
    assert len(routes) >= 10
    for method, path, perms in routes:
        assert set(perms) <= PERMISSIONS, (method, path)


def test_every_route_requires_a_token(app, client):
    for method, path, _ in api_routes(app):
        resp = client.open(path, method=method)
        assert resp.status_code == 401, (method, path)
        assert resp.json == {"detail": "Authentication credentials were not provided."}
        assert resp.headers["WWW-Authenticate"] == "Token"
        resp = client.open(path, method=method, headers={"Authorization": "Token nope"})
        assert resp.status_code == 401, (method, path)
        assert resp.json == {"detail": "Invalid token."}


def test_every_route_checks_its_permission(app, client, make_token):
    for method, path, perms in api_routes(app):
        if not perms:
            continue
        others = sorted(PERMISSIONS - set(perms))
        headers = make_token(*others)
        resp = client.open(path, method=method, headers=headers, json={})
        assert resp.status_code == 403, (method, path)
        assert resp.json == {"detail": "You do not have permission to perform this action."}
        headers = make_token(*perms)
        resp = client.open(path, method=method, headers=headers, json={})
        assert resp.status_code not in (401, 403), (method, path, resp.json)


def test_revoked_token_is_refused(client, runtime, make_token):
    from espalier.services import auth

    headers = make_token("mdm.view_enrolleddevice")
    assert client.get("/api/mdm/devices/", headers=headers).status_code == 200
    key = headers["Authorization"].split()[1]
    with runtime.db.session() as s, s.begin():
        auth.revoke_token(s, key[:8])
    assert client.get("/api/mdm/devices/", headers=headers).status_code == 401


def test_token_key_is_stored_hashed(runtime, make_token):
    from sqlalchemy import select

    from espalier.models import ApiToken

    key = make_token(role="viewer")["Authorization"].split()[1]
    with runtime.db.session() as s:
        stored = s.scalars(select(ApiToken)).one()
    assert key not in (stored.key_hash, stored.prefix + stored.key_hash)
    assert stored.prefix == key[:8]


def test_unknown_api_path_and_method_are_json(client, admin):
    resp = client.get("/api/mdm/nothing/", headers=admin)
    assert resp.status_code == 404 and resp.json == {"detail": "Not found."}
    resp = client.delete("/api/mdm/devices/", headers=admin)
    assert resp.status_code == 405 and resp.json == {"detail": 'Method "DELETE" not allowed.'}


def test_a_write_to_a_read_only_route_without_a_token_is_401(client, admin):
    """DRF authenticates before it looks at the method."""
    assert client.post("/api/mdm/devices/").status_code == 401
    assert client.post("/api/mdm/devices/", headers={"Authorization": "Token nope"}).status_code == 401
    assert client.post("/api/mdm/devices/", headers=admin).status_code == 405


def test_unmigrated_database_is_refused(tmp_path, settings_factory):
    from espalier.db import NotMigrated

    settings = settings_factory(f"sqlite:///{tmp_path}/empty.db")
    with pytest.raises(NotMigrated, match="run `espalier db upgrade` first"):
        create_app(settings)
