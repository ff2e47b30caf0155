"""Convergence end to end: simulated devices on a blueprint, on PostgreSQL."""
from __future__ import annotations

import plistlib
import threading

import pytest
from profiles_data import b64, mobileconfig
from sqlalchemy import func, select, update

from espalier.models import DeviceArtifact, DeviceCommand


@pytest.fixture
def mdm_settings():
    return {"mtls_proxy": True}


@pytest.fixture
def setup(client, admin, enrollment):
    """A blueprint on the enrollment, a macOS+iOS Wi-Fi artifact with version 1 on it."""
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "Fleet", "legacy_profiles_via_ddm": False}).json
    resp = client.put(f"/api/mdm/ota_enrollments/{enrollment['id']}/", headers=admin, json={"blueprint": bp["id"]})
    assert resp.status_code == 200
    art = client.post("/api/mdm/artifacts/", headers=admin, json={
        "name": "Wi-Fi", "type": "Profile", "channel": "Device", "platforms": ["macOS", "iOS"]}).json
    v1 = client.post("/api/mdm/profiles/", headers=admin, json={
        "artifact": art["id"], "version": 1, "macos": True, "ios": True, "source": b64(mobileconfig(version=1))}).json
    item = client.post("/api/mdm/blueprint_artifacts/", headers=admin, json={
        "blueprint": bp["id"], "artifact": art["id"], "macos": True}).json
    assert "id" in item, item
    return {"blueprint": bp, "artifact": art, "v1": v1, "item": item}


def statuses(client, admin, device_id):
    return {a["artifact_version"]: a["status"] for a in
            client.get(f"/api/mdm/devices/{device_id}/artifacts/", headers=admin).json}


def received(sim, request_type):
    return [c for c in sim.commands if c.request_type == request_type]


def test_a_device_gets_the_profile_then_the_new_version(client, admin, enrolled, setup):
    sim, device_id = enrolled("mac")
    handled = sim.connect()
    assert ("InstallProfile", "Acknowledged") in handled, handled
    assert sim.profiles["com.example.wifi"]["PayloadDescription"] == "version 1"
    assert statuses(client, admin, device_id) == {setup["v1"]["id"]: "installed"}
    assert sim.connect() == []  # converged: nothing more

    v2 = client.post("/api/mdm/profiles/", headers=admin, json={
        "artifact": setup["artifact"]["id"], "version": 2, "macos": True,
        "source": b64(mobileconfig(version=2))}).json
    assert sim.connect() == [("InstallProfile", "Acknowledged")]
    assert sim.profiles["com.example.wifi"]["PayloadDescription"] == "version 2"
    assert statuses(client, admin, device_id) == {setup["v1"]["id"]: "removed", v2["id"]: "installed"}
    summary = client.get(f"/api/mdm/artifact_versions/{v2['id']}/status/", headers=admin).json
    assert summary == {"artifact_version": v2["id"], "counts": {"pending": 0, "installed": 1, "failed": 0,
                                                                 "removed": 0}}
    assert sim.connect() == []


def test_platform_and_tag_scoping(client, admin, enrolled, setup):
    phone, phone_id = enrolled("iphone")
    mac, mac_id = enrolled("mac")
    phone.connect()
    mac.connect()
    assert "com.example.wifi" not in phone.profiles  # the blueprint artifact is macOS only
    assert "com.example.wifi" in mac.profiles
    tag = client.post("/api/inventory/tags/", headers=admin, json={"name": "no-wifi"}).json
    item = setup["item"]
    resp = client.put(f"/api/mdm/blueprint_artifacts/{item['id']}/", headers=admin, json={
        "blueprint": item["blueprint"], "artifact": item["artifact"], "macos": True, "excluded_tags": [tag["id"]]})
    assert resp.status_code == 200
    assert mac.connect() == []  # not tagged yet
    resp = client.post("/api/inventory/machines/tags/", headers=admin, json={
        "serial_numbers": [mac.facts.serial], "operations": [{"kind": "ADD", "names": ["no-wifi"]}]})
    assert resp.status_code == 200
    assert mac.connect() == [("RemoveProfile", "Acknowledged")]
    assert "com.example.wifi" not in mac.profiles
    assert statuses(client, admin, mac_id) == {setup["v1"]["id"]: "removed"}
    client.post("/api/inventory/machines/tags/", headers=admin, json={
        "serial_numbers": [mac.facts.serial], "operations": [{"kind": "REMOVE", "names": ["no-wifi"]}]})
    assert mac.connect() == [("InstallProfile", "Acknowledged")]
    assert statuses(client, admin, phone_id) == {}


def test_os_bounds_and_shards(client, admin, enrolled, setup):
    item = setup["item"]
    base = {"blueprint": item["blueprint"], "artifact": item["artifact"], "macos": True}
    client.put(f"/api/mdm/blueprint_artifacts/{item['id']}/", headers=admin, json={**base, "macos_min_version": "99"})
    mac, _ = enrolled("mac")
    mac.connect()
    assert "com.example.wifi" not in mac.profiles
    client.put(f"/api/mdm/blueprint_artifacts/{item['id']}/", headers=admin, json={**base, "default_shard": 0})
    assert mac.connect() == []  # shard 0 of 100: nobody
    client.put(f"/api/mdm/blueprint_artifacts/{item['id']}/", headers=admin, json={**base, "macos_max_version": "99"})
    assert mac.connect() == [("InstallProfile", "Acknowledged")]


def test_removing_the_blueprint_artifact_removes_only_our_profile(client, admin, enrolled, setup):
    mac, device_id = enrolled("mac")
    mac.connect()
    mac.profiles["com.user.own"] = {"PayloadIdentifier": "com.user.own", "PayloadUUID": "X", "PayloadContent": []}
    assert client.delete(f"/api/mdm/blueprint_artifacts/{setup['item']['id']}/", headers=admin).status_code == 204
    assert mac.connect() == [("RemoveProfile", "Acknowledged")]
    assert "com.example.wifi" not in mac.profiles and "com.user.own" in mac.profiles
    assert mac.mdm_profile_identifier in mac.profiles
    assert mac.connect() == []
    removes = received(mac, "RemoveProfile")
    assert [c.command["Identifier"] for c in removes] == ["com.example.wifi"]


def test_an_artifact_can_be_deleted_once_every_device_removed_it(client, admin, enrolled, setup):
    mac, device_id = enrolled("mac")
    mac.connect()
    url = f"/api/mdm/artifacts/{setup['artifact']['id']}/"
    assert client.delete(f"/api/mdm/blueprint_artifacts/{setup['item']['id']}/", headers=admin).status_code == 204
    assert client.delete(url, headers=admin).json == ["This artifact cannot be deleted"]  # still installed
    assert mac.connect() == [("RemoveProfile", "Acknowledged")]
    assert statuses(client, admin, device_id) == {setup["v1"]["id"]: "removed"}
    assert client.delete(url, headers=admin).status_code == 204
    assert client.get(f"/api/mdm/devices/{device_id}/artifacts/", headers=admin).json == []


def test_a_failed_install_is_reported_and_not_retried(client, admin, enrolled, setup):
    broken = plistlib.loads(mobileconfig(identifier="com.example.broken"))
    del broken["PayloadContent"][0]["PayloadType"]
    art = client.post("/api/mdm/artifacts/", headers=admin, json={
        "name": "Broken", "type": "Profile", "channel": "Device"}).json
    client.post("/api/mdm/profiles/", headers=admin, json={
        "artifact": art["id"], "version": 1, "macos": True, "source": b64(plistlib.dumps(broken))})
    client.post("/api/mdm/blueprint_artifacts/", headers=admin, json={
        "blueprint": setup["blueprint"]["id"], "artifact": art["id"], "macos": True})
    mac, device_id = enrolled("mac")
    handled = mac.connect()
    assert handled.count(("InstallProfile", "Error")) == 1 and ("InstallProfile", "Acknowledged") in handled
    rows = client.get(f"/api/mdm/devices/{device_id}/artifacts/", headers=admin).json
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["artifact"] == art["id"]
    chain = failed[0]["error_chain"]
    assert chain[0]["ErrorDomain"] == "MCInstallationErrorDomain" and "PayloadType" in chain[1]["LocalizedDescription"]
    assert mac.connect() == []
    fleet = "/api/mdm/device_artifacts/"
    assert client.get(f"{fleet}?status=failed", headers=admin).json == failed
    page = client.get(f"{fleet}?status=installed&limit=1", headers=admin).json
    assert page["count"] == 1 and page["results"][0]["artifact"] == setup["artifact"]["id"]
    assert client.get(f"{fleet}?status=failed&stale_for=3600", headers=admin).json == []
    assert client.get(f"{fleet}?enrolled_device={device_id}&artifact={art['id']}", headers=admin).json == failed
    assert client.get(f"{fleet}?status=broken", headers=admin).status_code == 400
    assert client.get(f"{fleet}?artifact=nope", headers=admin).status_code == 400
    items = client.get("/api/mdm/blueprint_artifacts/", headers=admin).json
    broken_item = next(i for i in items if i["artifact"] == art["id"])
    assert client.delete(f"/api/mdm/blueprint_artifacts/{broken_item['id']}/", headers=admin).status_code == 204
    # the device never had it: a failed installation does not hold the artifact back
    assert client.delete(f"/api/mdm/artifacts/{art['id']}/", headers=admin).status_code == 204


def test_profile_list_reconciles(client, admin, enrolled, setup):
    mac, device_id = enrolled("mac")
    mac.connect()
    mac.profiles.pop("com.example.wifi")  # the user removed it behind our back
    resp = client.post(f"/api/mdm/devices/{device_id}/commands/", headers=admin, json={"name": "ProfileList"})
    assert resp.status_code == 201, resp.json
    handled = mac.connect()
    assert handled == [("ProfileList", "Acknowledged"), ("InstallProfile", "Acknowledged")], handled
    assert "com.example.wifi" in mac.profiles
    assert statuses(client, admin, device_id) == {setup["v1"]["id"]: "installed"}


def test_moving_a_device_off_the_blueprint(client, admin, enrolled, setup):
    mac, device_id = enrolled("mac")
    mac.connect()
    resp = client.patch(f"/api/mdm/devices/{device_id}/", headers=admin, json={"blueprint": None})
    assert resp.status_code == 200 and resp.json["blueprint"] is None
    assert mac.connect() == [("RemoveProfile", "Acknowledged")]
    resp = client.patch(f"/api/mdm/devices/{device_id}/", headers=admin, json={"blueprint": setup["blueprint"]["id"]})
    assert mac.connect() == [("InstallProfile", "Acknowledged")]
    assert client.patch(f"/api/mdm/devices/{device_id}/", headers=admin, json={"blueprint": 999}).json == {
        "blueprint": ['Invalid pk "999" - object does not exist.']}


def test_concurrent_connects_queue_one_install(app, client, admin, enrolled, setup, runtime):
    from espalier.sim.device import mtls_headers

    client.delete(f"/api/mdm/blueprint_artifacts/{setup['item']['id']}/", headers=admin)
    mac, device_id = enrolled("mac")
    mac.connect()  # inventory done, nothing to install
    client.post("/api/mdm/blueprint_artifacts/", headers=admin, json={
        "blueprint": setup["blueprint"]["id"], "artifact": setup["artifact"]["id"], "macos": True})
    headers = {"Content-Type": "application/x-apple-aspen-mdm", **mtls_headers(mac.identity_cert)}
    idle = plistlib.dumps({"UDID": mac.facts.udid, "Status": "Idle"})
    barrier = threading.Barrier(6)
    out = []

    def run():
        c = app.test_client()
        barrier.wait()
        out.append(c.put("/mdm/connect", data=idle, headers=headers))

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.status_code == 200 for r in out)
    assert sum(1 for r in out if r.data) == 1  # one got the command; it is in flight for the others
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(DeviceCommand).where(
            DeviceCommand.enrolled_device_id == device_id, DeviceCommand.name == "InstallProfile")) == 1


def test_connect_reads_do_not_grow_with_the_artifacts(client, admin, enrolled, setup, runtime):
    """No N+1: a converged device's evaluating connect (its first Idle once its rows changed)
    costs the same statements for one artifact or six."""
    from sqlalchemy import event

    from espalier.mdm.blueprint_cache import BlueprintCache

    mac, _ = enrolled("mac")
    mac.connect()
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    def idle_statements() -> int:
        statements.clear()
        runtime.blueprints = BlueprintCache()  # each measure reads the blueprint, as a new process would
        event.listen(runtime.db.engine, "before_cursor_execute", count)
        try:
            assert mac.connect() == []
        finally:
            event.remove(runtime.db.engine, "before_cursor_execute", count)
        return len(statements)

    one = idle_statements()
    for n in range(5):
        art = client.post("/api/mdm/artifacts/", headers=admin, json={
            "name": f"A{n}", "type": "Profile", "channel": "Device"}).json
        client.post("/api/mdm/profiles/", headers=admin, json={
            "artifact": art["id"], "version": 1, "macos": True,
            "source": b64(mobileconfig(identifier=f"com.example.a{n}"))})
        client.post("/api/mdm/blueprint_artifacts/", headers=admin, json={
            "blueprint": setup["blueprint"]["id"], "artifact": art["id"], "macos": True})
    assert [t for t, s in mac.connect()] == ["InstallProfile"] * 5
    assert idle_statements() == one


def test_a_new_source_under_the_same_version_is_installed_again(client, admin, enrolled, setup, runtime):
    mac, device_id = enrolled("mac")
    phone, _ = enrolled("iphone")
    mac.connect()
    mac.locked = True
    other = enrolled("mac")[0]
    other.locked = True
    other.connect()  # InstallProfile deferred with NotNow
    v1 = setup["v1"]
    resp = client.put(f"/api/mdm/profiles/{v1['id']}/", headers=admin, json={
        "artifact": v1["artifact"], "version": 1, "macos": True, "source": b64(mobileconfig(version=7))})
    assert resp.status_code == 200, resp.json
    mac.locked = other.locked = False
    assert mac.connect() == [("InstallProfile", "Acknowledged")]
    assert mac.profiles["com.example.wifi"]["PayloadDescription"] == "version 7"
    handled = other.connect()  # its deferred inventory, then the one install of the new source
    assert handled.count(("InstallProfile", "Acknowledged")) == 1 and handled[-1][0] == "InstallProfile", handled
    assert other.profiles["com.example.wifi"]["PayloadDescription"] == "version 7"
    with runtime.db.session() as s:
        canceled = s.scalar(select(func.count()).select_from(DeviceCommand).where(DeviceCommand.status == "Canceled"))
    assert canceled == 1  # the deferred install of the old source


def test_a_change_committed_after_the_epoch_was_read_is_not_missed(runtime, client, admin, enrolled, setup):
    """An admin transaction holds its convergence epoch bump while a device connects (on
    PostgreSQL writers run concurrently): the device reads the old epoch and the old
    blueprint and is marked with that epoch; once the change commits, the next Idle sees a
    newer epoch and the new item."""
    from espalier.models import EnrolledDevice
    from espalier.models.convergence_epoch import CURRENT
    from espalier.services import artifacts, blueprints

    def mark_and_epoch():
        with runtime.db.session() as s:
            return s.scalar(select(EnrolledDevice.converged_epoch).where(EnrolledDevice.id == device_id)), \
                s.scalar(CURRENT)

    mac, device_id = enrolled("mac")
    assert ("InstallProfile", "Acknowledged") in mac.connect()
    assert mac.connect() == []
    mark, epoch = mark_and_epoch()
    assert mark == epoch  # converged and marked
    filters = {"macos": True, **{f"{p}{s}": "" for p in ("ios", "ipados", "macos", "tvos")
                                 for s in ("_min_version", "_max_version")},
               "ios": False, "ipados": False, "tvos": False, "shard_modulo": 100, "default_shard": 100,
               "excluded_tags": [], "tag_shards": []}
    with runtime.db.session() as s, s.begin():
        art = artifacts.save_artifact(s, runtime, {"name": "Late", "type": "Profile", "channel": "Device"})
        artifacts.save_profile(s, runtime, {**filters, "artifact": art.id, "version": 1,
                                            "source": b64(mobileconfig("com.example.late"))})
        blueprints.save_item(s, runtime, {**filters, "blueprint": setup["blueprint"]["id"], "artifact": art.id})
        s.flush()
        assert mac.connect() == []  # the change is not committed yet
        assert mark_and_epoch() == (epoch, epoch)  # still the committed epoch
    assert mac.connect() == [("InstallProfile", "Acknowledged")]
    assert "com.example.late" in mac.profiles


def test_admin_transactions_do_not_queue_behind_each_other_s_epoch_bump(runtime, client, admin, setup):
    """Two admin transactions change what convergence reads: the second commits while the
    first is still open (the epoch row is locked only as a transaction commits), and each
    moves the epoch once."""
    from sqlalchemy import text

    from espalier.models.convergence_epoch import CURRENT
    from espalier.services import artifacts

    with runtime.db.session() as s:
        start = s.scalar(CURRENT)
    with runtime.db.session() as first, first.begin():
        artifacts.save_artifact(first, runtime, {"name": "First", "type": "Profile", "channel": "Device"})
        first.flush()  # its change is written, its transaction open
        with runtime.db.session() as second, second.begin():
            second.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting for the first would fail
            artifacts.save_artifact(second, runtime, {"name": "Second", "type": "Profile", "channel": "Device"})
        with runtime.db.session() as s:
            assert s.scalar(CURRENT) == start + 1  # the second's bump, committed
    with runtime.db.session() as s:
        assert s.scalar(CURRENT) == start + 2
    with runtime.db.session() as s, s.begin():  # a rolled-back change bumps nothing
        artifacts.save_artifact(s, runtime, {"name": "Gone", "type": "Profile", "channel": "Device"})
        s.flush()
        s.rollback()
    with runtime.db.session() as s:
        assert s.scalar(CURRENT) == start + 2
    with runtime.db.read_session() as s:  # in autocommit the change is committed at once: so is its bump
        s.execute(update(DeviceArtifact).where(DeviceArtifact.id == -1).values(error_chain=None))
    with runtime.db.session() as s:
        assert s.scalar(CURRENT) == start + 3
