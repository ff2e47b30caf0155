"""The DDM check-in endpoints, tokens, status reports and the declarations API, one by one."""
from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from espalier.mdm import ddm
from espalier.mdm.platforms import ddm_capable
from espalier.models import DeviceCommand, DeviceDeclaration, EnrolledDevice

PASSCODE = {"Type": "com.apple.configuration.passcode.settings", "Identifier": "com.example.passcode",
            "Payload": {"MinimumLength": 8}}


@pytest.fixture
def mdm_settings():
    return {"mtls_proxy": True}


@pytest.fixture
def setup(client, admin, enrollment):
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "Fleet"}).json
    client.put(f"/api/mdm/ota_enrollments/{enrollment['id']}/", headers=admin, json={"blueprint": bp["id"]})
    art = client.post("/api/mdm/artifacts/", headers=admin, json={
        "name": "Passcode", "type": "Configuration", "channel": "Device"}).json
    v1 = client.post("/api/mdm/declarations/", headers=admin, json={
        "artifact": art["id"], "version": 1, "macos": True, "source": {**PASSCODE, "ServerToken": "mine"}}).json
    client.post("/api/mdm/blueprint_artifacts/", headers=admin, json={
        "blueprint": bp["id"], "artifact": art["id"], "macos": True})
    return {"blueprint": bp, "artifact": art, "v1": v1}


def ddm_get(sim, endpoint, **extra):
    return sim.checkin("DeclarativeManagement", Endpoint=endpoint, **extra)


def test_capability_rule():
    assert ddm_capable("macOS", "13.0") and ddm_capable("iOS", "15.0.1") and ddm_capable("tvOS", "16")
    assert ddm_capable("iPadOS", "17.6.1")
    assert not ddm_capable("macOS", "12.7.6") and not ddm_capable("iOS", "14.8")
    assert not ddm_capable("watchOS", "10.0") and not ddm_capable(None, "15") and not ddm_capable("iOS", None)


def test_the_api_stores_the_declaration_without_its_server_token(client, admin, setup):
    v1 = setup["v1"]
    assert v1["source"] == PASSCODE  # the ServerToken sent is not kept
    assert v1["type"] == PASSCODE["Type"] and v1["identifier"] == "com.example.passcode"
    assert len(v1["server_token"]) <= 64 and v1["server_token"] != "mine"
    assert client.get(f"/api/mdm/declarations/{v1['id']}/", headers=admin).json == v1
    assert [d["id"] for d in client.get("/api/mdm/declarations/", headers=admin).json] == [v1["id"]]


@pytest.mark.parametrize("source, message", [
    ({**PASSCODE, "Type": "com.apple.asset.data"}, "Type must be a com.apple.configuration.* declaration"),
    ({**PASSCODE, "Type": "passcode"}, "Type must be a declaration type"),
    ({**PASSCODE, "Identifier": "x" * 65}, "at most 64 octets"),
    ({**PASSCODE, "Identifier": "é" * 33}, "at most 64 octets"),
    ({**PASSCODE, "Identifier": "espalier.activation.mine"}, "are the server's"),
    ({**PASSCODE, "Payload": []}, "Payload must be an object"),
    ({k: v for k, v in PASSCODE.items() if k != "Identifier"}, "Identifier must be"),
])
def test_the_api_refuses_what_is_not_a_declaration_of_the_kind(client, admin, setup, source, message):
    resp = client.post("/api/mdm/declarations/", headers=admin, json={
        "artifact": setup["artifact"]["id"], "version": 2, "macos": True, "source": source})
    assert resp.status_code == 400 and message in resp.json["source"][0], resp.json


def test_the_api_refuses_bad_shapes_and_other_artifacts(client, admin, setup):
    base = {"artifact": setup["artifact"]["id"], "version": 2, "macos": True}
    resp = client.post("/api/mdm/declarations/", headers=admin, json={**base, "source": "text"})
    assert resp.status_code == 400 and resp.json["source"] == ['Expected a dictionary of items but got type "str".']
    assert client.post("/api/mdm/declarations/", headers=admin, json={**base, "version": 0, "source": PASSCODE}
                       ).json["version"] == ["Ensure this value is greater than or equal to 1."]
    assert client.post("/api/mdm/declarations/", headers=admin, json={**base, "version": 1, "source": PASSCODE}
                       ).json["version"][0].startswith("A version of this artifact")
    other = client.post("/api/mdm/artifacts/", headers=admin, json={
        "name": "Other", "type": "Configuration", "channel": "Device"}).json
    resp = client.post("/api/mdm/declarations/", headers=admin, json={**base, "artifact": other["id"],
                                                                      "version": 1, "source": PASSCODE})
    assert resp.json == {"source": ["A declaration of another artifact has this Identifier."]}
    profile_art = client.post("/api/mdm/artifacts/", headers=admin, json={
        "name": "Prof", "type": "Profile", "channel": "Device"}).json
    resp = client.post("/api/mdm/declarations/", headers=admin, json={**base, "artifact": profile_art["id"],
                                                                      "source": PASSCODE})
    assert resp.json == {"artifact": ["Not a declaration artifact"]}
    resp = client.put(f"/api/mdm/artifacts/{setup['artifact']['id']}/", headers=admin, json={
        "name": "Passcode", "type": "Profile", "channel": "Device"})
    assert resp.json == {"type": ["The type of an artifact with versions cannot change."]}


def test_permissions(client, make_token, setup):
    viewer = make_token("mdm.view_declaration")
    assert client.get("/api/mdm/declarations/", headers=viewer).status_code == 200
    assert client.post("/api/mdm/declarations/", headers=viewer, json={}).status_code == 403
    assert client.delete(f"/api/mdm/declarations/{setup['v1']['id']}/", headers=viewer).status_code == 403


def test_tokens_items_and_declarations(client, admin, enrolled, setup, runtime):
    sim, device_id = enrolled("mac")
    tokens = ddm_get(sim, "tokens")
    assert tokens.status_code == 200 and tokens.headers["content-type"] == "application/json"
    token = tokens.json()["SyncTokens"]["DeclarationsToken"]
    assert token == ddm_get(sim, "tokens").json()["SyncTokens"]["DeclarationsToken"]  # stable
    items = ddm_get(sim, "declaration-items").json()
    assert items["DeclarationsToken"] == token
    assert set(items["Declarations"]) == {"Activations", "Configurations", "Assets", "Management"}
    assert items["Declarations"]["Assets"] == [] and items["Declarations"]["Management"] == []
    assert items["Declarations"]["Configurations"] == [{"Identifier": "com.example.passcode",
                                                        "ServerToken": setup["v1"]["server_token"]}]
    [activation] = items["Declarations"]["Activations"]
    served = ddm_get(sim, f"declaration/activation/{activation['Identifier']}").json()
    assert served["Type"] == "com.apple.activation.simple"
    assert served["Payload"] == {"StandardConfigurations": ["com.example.passcode"]}
    served = ddm_get(sim, "declaration/configuration/com.example.passcode").json()
    assert served == {**PASSCODE, "ServerToken": setup["v1"]["server_token"]}
    for missing in ("declaration/configuration/com.example.nothing", "declaration/asset/com.example.passcode",
                    "declaration/what/com.example.passcode", "declaration/configuration/", "elsewhere"):
        assert ddm_get(sim, missing).status_code == 404, missing
    with runtime.db.session() as s:
        device = s.get(EnrolledDevice, device_id)
        assert device.declarations_token == token and device.declarative_management


def test_the_token_changes_exactly_when_the_set_does(client, admin, enrolled, setup):
    sim, _ = enrolled("mac")

    def current():
        return ddm_get(sim, "tokens").json()["SyncTokens"]["DeclarationsToken"]

    first = current()
    body = {"artifact": setup["artifact"]["id"], "version": 1, "macos": True, "source": PASSCODE}
    same = client.put(f"/api/mdm/declarations/{setup['v1']['id']}/", headers=admin, json=body).json
    assert same["server_token"] == setup["v1"]["server_token"] and current() == first
    changed = client.put(f"/api/mdm/declarations/{setup['v1']['id']}/", headers=admin, json={
        **body, "source": {**PASSCODE, "Payload": {"MinimumLength": 9}}}).json
    assert changed["server_token"] != setup["v1"]["server_token"] and current() != first
    client.put(f"/api/mdm/declarations/{setup['v1']['id']}/", headers=admin, json=body)
    assert current() == first  # the content is back: so is the token


def test_the_step_queues_once_per_token_and_never_loops(client, admin, enrolled, setup, runtime):
    sim, device_id = enrolled("mac")
    sim.ddm_sync_requested = False
    sim.connect()  # the sim syncs after the session: with the request dropped, it does not

    def commands():
        with runtime.db.session() as s:
            return s.scalar(select(func.count()).select_from(DeviceCommand).where(
                DeviceCommand.enrolled_device_id == device_id, DeviceCommand.name == "DeclarativeManagement"))

    assert commands() == 1
    sim.ddm_sync_requested = False
    assert sim.connect() == []  # the device did not sync: no second command for the same token
    assert commands() == 1
    assert sim.ddm_sync() and sim.connect() == [] and commands() == 1
    with runtime.db.session() as s, s.begin():
        ddm.resync(s, [device_id])
    assert sim.connect() == [("DeclarativeManagement", "Acknowledged")] and commands() == 2


def test_hostile_ddm_input(client, admin, enrolled, setup, runtime):
    sim, device_id = enrolled("mac")
    assert ddm_get(sim, "status").status_code == 400  # no Data
    assert ddm_get(sim, "status", Data=b"not json").status_code == 400
    assert ddm_get(sim, "status", Data=b"[1, 2]").status_code == 400
    assert ddm_get(sim, "status", Data=json.dumps({"StatusItems": []}).encode()).status_code == 400
    bad = {"StatusItems": {"management": {"declarations": {"configurations": "x"}}}}
    assert ddm_get(sim, "status", Data=json.dumps(bad).encode()).status_code == 400
    deep = b"[" * 100 + b"]" * 100
    assert ddm_get(sim, "status", Data=b'{"StatusItems": {"a": ' + deep + b"}}").status_code == 400
    assert ddm_get(sim, "status", Data=b"{" + b" " * (5 * 1024 * 1024) + b"}").status_code in (400, 413)
    absurd = {"StatusItems": {"management": {"declarations": {"configurations": [
        {"identifier": f"i{i}"} for i in range(20_001)]}}}}
    assert ddm_get(sim, "status", Data=json.dumps(absurd).encode()).status_code == 400
    odd = {"StatusItems": {"management": {"declarations": {"configurations": [
        {"identifier": "x" * 65, "valid": "valid"}, "nope", {"identifier": "ok", "valid": "maybe",
                                                             "server-token": 7, "reasons": "r"}]}}}}
    assert ddm_get(sim, "status", Data=json.dumps(odd).encode()).status_code == 200
    with runtime.db.session() as s:
        rows = s.scalars(select(DeviceDeclaration).where(DeviceDeclaration.enrolled_device_id == device_id)).all()
        assert [(r.identifier, r.valid, r.server_token, r.reasons) for r in rows] == [("ok", "unknown", "", None)]
    assert ddm_get(sim, "x" * 600).status_code == 400  # Endpoint longer than the message allows


def test_another_device_identity_is_refused(client, admin, enrolled, setup):
    victim, _ = enrolled("mac")
    intruder, _ = enrolled("mac")
    resp = intruder.checkin("DeclarativeManagement", Endpoint="declaration/configuration/com.example.passcode",
                            UDID=victim.facts.udid)
    assert resp is None or resp.status_code in (400, 403)
    assert not resp or b"MinimumLength" not in resp.content


def test_status_moves_rows_and_a_full_report_replaces(client, admin, enrolled, setup, runtime):
    sim, device_id = enrolled("mac")
    sim.connect()
    token = setup["v1"]["server_token"]

    def report(entries, full=True):
        data = {"StatusItems": {"management": {"declarations": {"configurations": entries}}}, "FullReport": full}
        assert ddm_get(sim, "status", Data=json.dumps(data).encode()).status_code == 200

    def rows():
        return {a["artifact_version"]: (a["status"], a["error_chain"]) for a in
                client.get(f"/api/mdm/devices/{device_id}/artifacts/", headers=admin).json}

    reasons = [{"Code": "Error.X", "Description": "no"}]
    report([{"identifier": "com.example.passcode", "valid": "invalid", "active": False, "server-token": token,
             "reasons": reasons}])
    assert rows()[setup["v1"]["id"]] == ("failed", reasons)
    report([{"identifier": "com.example.passcode", "valid": "valid", "active": True, "server-token": "old"}])
    assert rows()[setup["v1"]["id"]] == ("failed", reasons)  # about other content: ignored
    report([{"identifier": "com.example.passcode", "valid": "valid", "active": True, "server-token": token},
            {"identifier": "other", "valid": "valid", "active": True}])
    assert rows()[setup["v1"]["id"]] == ("installed", None)
    report([{"identifier": "third", "valid": "valid", "active": True}], full=False)
    listed = {d["identifier"] for d in client.get(f"/api/mdm/devices/{device_id}/declarations/",
                                                    headers=admin).json}
    assert listed == {"com.example.passcode", "other", "third"}
    report([{"identifier": "third", "valid": "valid", "active": True}])
    listed = {d["identifier"] for d in client.get(f"/api/mdm/devices/{device_id}/declarations/",
                                                    headers=admin).json}
    assert listed == {"third"}


def test_a_report_of_ten_thousand_declarations_is_cheap(client, admin, enrolled, setup):
    sim, device_id = enrolled("mac")
    entries = [{"identifier": f"com.example.d{i}", "valid": "valid", "active": True, "server-token": f"t{i}"}
               for i in range(10_000)]
    data = {"StatusItems": {"management": {"declarations": {"configurations": entries}}}, "FullReport": True}
    started = time.monotonic()
    assert ddm_get(sim, "status", Data=json.dumps(data).encode()).status_code == 200
    entries[5]["valid"] = "invalid"
    assert ddm_get(sim, "status", Data=json.dumps(data).encode()).status_code == 200
    elapsed = time.monotonic() - started
    assert elapsed < 4, elapsed
    found = client.get(f"/api/mdm/devices/{device_id}/declarations/", headers=admin).json
    assert len(found) == 10_000 and sum(d["valid"] == "invalid" for d in found) == 1
