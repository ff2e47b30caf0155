"""Hostile input at every route, on PostgreSQL and SQLite: a clear 4xx, never a 500."""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from espalier.app import create_app
from espalier.runtime import build

HUGE = [2**31, 2**63, 10**30, -1]


@pytest.fixture(params=["postgresql", "sqlite"])
def backend_client(request, runtime, tmp_path, settings_factory):
    """A client of the app on PostgreSQL (the shared test database) and on a fresh SQLite file."""
    if request.param == "postgresql":
        app = create_app(runtime.settings, runtime=runtime)
        rt = runtime
    else:
        settings = settings_factory(f"sqlite:///{tmp_path}/hostile.db")
        rt = build(settings, queue=type(runtime.queue)())
        rt.db.upgrade(secret_keys=settings["secret_keys"])
        app = create_app(settings, runtime=rt)
    from espalier.services import auth

    with rt.db.session() as s, s.begin():
        auth.create_user(s, "hostile")
        _, key = auth.create_token(s, "hostile", roles=["admin"])
    yield app.test_client(), {"Authorization": f"Token {key}"}
    if rt is not runtime:
        rt.close()


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _fill(rule, value) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(value), rule.rule)


def test_path_ids_beyond_the_database_range_are_404(backend_client, app):
    client, admin = backend_client
    for rule, method in _routes(app):
        if "<int:" not in rule.rule:
            continue
        for value in HUGE:
            resp = client.open(_fill(rule, value), method=method, headers=admin, json={})
            assert resp.status_code in (404, 405), (method, rule.rule, value, resp.data)  # no route, as in DRF


@pytest.mark.parametrize("query", ["enrolled_device=9223372036854775808", "enrolled_device=1_0",
                                   "enrolled_device=٣", "enrolled_device=-1"])
def test_query_integers_beyond_range_or_odd_digits_are_400(backend_client, query):
    client, admin = backend_client
    resp = client.get("/api/mdm/devices/commands/?" + query, headers=admin)
    assert resp.status_code == 400, resp.data


@pytest.mark.parametrize("query", ["limit=99999999999999999999", "offset=99999999999999999999", "limit=1_0",
                                   "offset=٣", "limit=-5"])
def test_odd_paging_is_ignored_or_capped_as_drf_does(backend_client, query):
    client, admin = backend_client
    resp = client.get("/api/mdm/devices/?" + query, headers=admin)
    assert resp.status_code == 200, resp.data


@pytest.mark.parametrize("url, method, body", [
    ("/api/mdm/devices/?serial_number=a%00b", "GET", None),
    ("/api/mdm/devices/?udid=%00", "GET", None),
    ("/api/mdm/ota_enrollments/?name=x%00", "GET", None),
    ("/api/mdm/devices/commands/x%00y/", "GET", None),
    ("/api/mdm/ota_enrollments/", "POST", {"name": "a\x00b", "push_certificate": 1}),
    ("/api/mdm/push_certificates/", "POST", {"name": "n", "certificate": "\x00", "private_key": "k"}),
    ("/api/mdm/devices/1/commands/", "POST", {"name": "DeviceInformation", "arguments": {"q\x00": 1}}),
    ("/public/enroll/abc%00def/", "GET", None),
])
def test_nul_characters_are_400(backend_client, url, method, body):
    client, admin = backend_client
    resp = client.open(url, method=method, headers=admin, json=body)
    assert resp.status_code == 400, resp.data


@pytest.mark.parametrize("url", ["/api/mdm/devices/1/lock/", "/api/mdm/push_certificates/", "/api/mdm/devices/notify/"])
def test_json_nested_beyond_the_parsers_depth_is_400(backend_client, url):
    client, admin = backend_client
    resp = client.post(url, headers=admin, data=b"[" * 50_000 + b"]" * 50_000, content_type="application/json")
    assert resp.status_code == 400 and resp.json == {"detail": "JSON parse error - nested too deeply"}


JSON = st.recursive(st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
                    | st.floats(allow_nan=True) | st.text(max_size=20),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                                     max_size=4), max_leaves=12)
FIELDS = st.sampled_from(["name", "pin", "message", "phone_number", "disallow_proximity_setup",
                          "preserve_data_plan", "devices", "arguments", "certificate", "private_key",
                          "private_key_password", "push_certificate", "blueprint", "identity_source",
                          "attestation", "scep_url", "scep_challenge", "reusable", "quota", "display_name"])
BODIES = st.dictionaries(FIELDS, JSON, max_size=6) | JSON
PATH_VALUES = st.one_of(st.integers(min_value=-5, max_value=2**64), st.text(min_size=1, max_size=12))


@settings(max_examples=int(__import__("os").environ.get("ESPALIER_FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_route_answers_fuzzed_requests_without_500(backend_client, app, data):
    client, admin = backend_client
    routes = list(_routes(app))
    rule, method = data.draw(st.sampled_from(routes))
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: quote(str(data.draw(PATH_VALUES)), safe="") or "x", rule.rule)
    query = data.draw(st.dictionaries(st.sampled_from(["limit", "offset", "serial_number", "udid", "name",
                                                       "status", "enrolled_device", "topic", "unsigned",
                                                       "operation", "message"]),
                                      st.text(max_size=12), max_size=3))
    headers = dict(admin) if data.draw(st.booleans()) else {}
    if data.draw(st.booleans()):
        resp = client.open(path, method=method, headers=headers, query_string=query, json=data.draw(BODIES))
    else:
        resp = client.open(path, method=method, headers=headers, query_string=query,
                           data=data.draw(st.binary(max_size=200)), content_type="application/json")
    assert resp.status_code < 500, (method, path, query, resp.data[:300])


def test_database_outage_is_503_with_retry_after(settings_factory):
    settings = settings_factory("postgresql://postgres@127.0.0.1:1/nowhere")
    app = create_app(settings, check_migrated=False)
    client = app.test_client()
    resp = client.get("/api/mdm/devices/", headers={"Authorization": "Token x" * 2})
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "30"
    assert resp.json == {"detail": "the database is unavailable; retry later"}
    resp = client.put("/mdm/connect", data=b"x", headers={"Mdm-Signature": "abc"})
    assert resp.status_code in (400, 503)
    app.extensions["espalier"].close()


def _shared_reference_bomb(depth: int = 30) -> bytes:
    """A binary plist of a few hundred bytes: each array holds the next one twice, so the
    object graph is tiny but the tree it stands for has 2**depth leaves (2**30 within the depth limit)."""
    objects = [b"\x51\x78"]  # object 0: the string "x"
    for i in range(1, depth + 1):
        objects.append(bytes([0xA2, i - 1, i - 1]))  # array of two refs to the previous object
    objects.append(bytes([0xD1, depth + 2, depth]))  # dict {"Bomb": the last array}: the top object
    objects.append(b"\x54Bomb")
    top = depth + 1
    body, offsets = b"bplist00", []
    for obj in objects:
        offsets.append(len(body))
        body += obj
    table_offset = len(body)
    body += bytes(o % 256 for o in offsets) if max(offsets) < 256 else b"".join(o.to_bytes(2, "big") for o in offsets)
    offset_size = 1 if max(offsets) < 256 else 2
    trailer = bytes(6) + bytes([offset_size, 1]) + len(objects).to_bytes(8, "big") + top.to_bytes(8, "big") \
        + table_offset.to_bytes(8, "big")
    return body + trailer


def test_a_shared_reference_plist_is_refused_in_milliseconds():
    import plistlib
    import time

    from espalier.mdm.errors import ParseError
    from espalier.mdm.messages import parse_plist

    bomb = _shared_reference_bomb()
    assert len(bomb) < 400 and isinstance(plistlib.loads(bomb), dict)
    start = time.thread_time()  # CPU, not wall time: a loaded machine must not fail it
    with pytest.raises(ParseError, match="too large as a tree"):
        parse_plist(bomb)
    assert time.thread_time() - start < 0.5


def test_unauthenticated_bodies_are_refused_before_parsing(client):
    """No Mdm-Signature, no proxy certificate: the body is never parsed, whatever it holds."""
    import time

    bomb = _shared_reference_bomb(60)
    start = time.thread_time()
    for url in ("/mdm/checkin", "/mdm/connect"):
        resp = client.put(url, data=bomb, headers={"Content-Type": "application/x-apple-aspen-mdm"})
        assert resp.status_code == 400 and b"missing" in resp.data
    assert time.thread_time() - start < 0.5
