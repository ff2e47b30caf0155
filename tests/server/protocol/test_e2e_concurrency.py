"""Racing requests of one device on PostgreSQL: a command is never lost, doubled, or resent after it is final."""
from __future__ import annotations

import plistlib
import threading

import pytest


CONNECT = {"Content-Type": "application/x-apple-aspen-mdm"}


@pytest.fixture
def mdm_settings():
    return {"mtls_proxy": True}


def race(app, headers, bodies):
    """PUT every body at once from its own thread; return the responses in order."""
    barrier = threading.Barrier(len(bodies))
    out = [None] * len(bodies)

    def run(i, body):
        c = app.test_client()
        barrier.wait()
        out[i] = c.put("/mdm/connect", data=body, headers={**CONNECT, **headers})

    threads = [threading.Thread(target=run, args=(i, b)) for i, b in enumerate(bodies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def delivered(resp):
    return plistlib.loads(resp.data)["CommandUUID"] if resp.status_code == 200 and resp.data else None


def test_racing_idle_connects_deliver_a_command_once(app, client, admin, enrolled):
    from espalier.sim.device import mtls_headers

    sim, device_id = enrolled("iphone")
    sim.connect()  # inventory done
    headers = mtls_headers(sim.identity_cert)
    idle = plistlib.dumps({"UDID": sim.facts.udid, "Status": "Idle"})
    for _ in range(5):
        cmd = client.post(f"/api/mdm/devices/{device_id}/lock/", headers=admin, json={}).json
        responses = race(app, headers, [idle] * 4)
        assert all(r.status_code == 200 for r in responses)
        got = [delivered(r) for r in responses]
        assert got.count(cmd["uuid"]) == 1, got
        ack = plistlib.dumps({"UDID": sim.facts.udid, "Status": "Acknowledged", "CommandUUID": cmd["uuid"]})
        assert client.put("/mdm/connect", data=ack, headers={**CONNECT, **headers}).status_code == 200


def test_a_final_command_is_never_resent_while_reports_race(app, client, admin, enrolled):
    from espalier.sim.device import mtls_headers

    sim, device_id = enrolled("iphone")
    sim.connect()
    headers = mtls_headers(sim.identity_cert)
    cmd = client.post(f"/api/mdm/devices/{device_id}/lock/", headers=admin, json={}).json
    first = client.put("/mdm/connect", data=plistlib.dumps({"UDID": sim.facts.udid, "Status": "Idle"}),
                       headers={**CONNECT, **headers})
    assert delivered(first) == cmd["uuid"]
    ack = plistlib.dumps({"UDID": sim.facts.udid, "Status": "Acknowledged", "CommandUUID": cmd["uuid"]})
    error = plistlib.dumps({"UDID": sim.facts.udid, "Status": "Error", "CommandUUID": cmd["uuid"],
                            "ErrorChain": [{"ErrorCode": 1, "ErrorDomain": "x"}]})
    responses = race(app, headers, [ack, error, ack, error])
    assert [delivered(r) for r in responses] == [None] * 4
    final = client.get(f"/api/mdm/devices/commands/{cmd['uuid']}/", headers=admin).json
    assert final["status"] in ("Acknowledged", "Error")  # the first report wins; it never flips
    again = client.put("/mdm/connect", data=plistlib.dumps({"UDID": sim.facts.udid, "Status": "Idle"}),
                       headers={**CONNECT, **headers})
    assert delivered(again) is None
    assert client.get(f"/api/mdm/devices/commands/{cmd['uuid']}/", headers=admin).json["status"] == final["status"]


def test_many_commands_all_delivered_exactly_once(app, client, admin, enrolled):
    sim, device_id = enrolled("iphone")
    sim.connect()
    uuids = {client.post(f"/api/mdm/devices/{device_id}/lock/", headers=admin, json={}).json["uuid"]
             for _ in range(20)}
    handled = sim.connect()
    assert handled == [("DeviceLock", "Acknowledged")] * 20
    assert {c.command_uuid for c in sim.commands if c.request_type == "DeviceLock"} == uuids
