"""The convergence epoch: a converged device's Idle connects skip convergence's reads and take
the blueprint from the process's cache of that epoch, and every change to what convergence
reads brings the device back (models/convergence_epoch.py, mdm/blueprint_cache.py).

Each test runs on PostgreSQL and SQLite, in both identity modes (the race of a change with a
connect is in test_e2e_convergence.py: it needs PostgreSQL's concurrent writers). Each change
case first checks that the device is marked (its Idle would skip), so a case
fails both when marking stops working and when the change stops clearing or bumping it.
"""
from __future__ import annotations

import pytest
from profiles_data import b64, mobileconfig
from sqlalchemy import select, update

from espalier.models import ConvergenceEpoch, DeviceArtifact, DeviceCommand, EnrolledDevice
from espalier.models import convergence_epoch as epochs


@pytest.fixture
def mdm_settings(both_identity_modes):
    return both_identity_modes


@pytest.fixture
def settings(both_databases):
    return both_databases


@pytest.fixture
def fleet(client, admin, enrollment):
    """A blueprint on the enrollment with a macOS Wi-Fi profile whose blueprint item excludes
    the tag ``no-wifi`` and applies below macOS 99."""
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "Fleet", "legacy_profiles_via_ddm": False}).json
    client.put(f"/api/mdm/ota_enrollments/{enrollment['id']}/", headers=admin, json={"blueprint": bp["id"]})
    tag = client.post("/api/inventory/tags/", headers=admin, json={"name": "no-wifi"}).json
    art = client.post("/api/mdm/artifacts/", headers=admin, json={
        "name": "Wi-Fi", "type": "Profile", "channel": "Device", "platforms": ["macOS"]}).json
    v1 = client.post("/api/mdm/profiles/", headers=admin, json={
        "artifact": art["id"], "version": 1, "macos": True, "source": b64(mobileconfig(version=1))}).json
    item = client.post("/api/mdm/blueprint_artifacts/", headers=admin, json={
        "blueprint": bp["id"], "artifact": art["id"], "macos": True, "excluded_tags": [tag["id"]],
        "macos_max_version": "99"}).json
    return {"blueprint": bp, "artifact": art, "v1": v1, "item": item}


def current(runtime) -> int:
    with runtime.db.session() as s:
        return s.scalar(epochs.CURRENT)


def mark_of(runtime, device_id: int) -> int | None:
    with runtime.db.session() as s:
        return s.scalar(select(EnrolledDevice.converged_epoch).where(EnrolledDevice.id == device_id))


def converged(runtime, sim, device_id):
    """The device installed the profile and its next empty Idle marked it."""
    assert ("InstallProfile", "Acknowledged") in sim.connect(), sim.errors
    assert sim.connect() == [], sim.errors
    assert mark_of(runtime, device_id) == current(runtime)


def test_a_converged_device_s_idle_reads_nothing_of_convergence(runtime, enrolled, fleet, counted):
    sim, device_id = enrolled("mac")
    with counted() as first:  # the profile's report evaluates again, finds nothing more, marks
        assert ("InstallProfile", "Acknowledged") in sim.connect(), sim.errors
    assert any("device_artifacts" in s for s in first["statements"]), first["statements"]
    assert any(s.startswith("UPDATE enrolled_devices SET converged_epoch") for s in first["statements"])
    assert mark_of(runtime, device_id) == current(runtime)
    with counted() as seen:
        assert sim.connect() == [], sim.errors
    # the session UPDATE and its work: the blueprint is the process's copy of this epoch
    assert [s.split()[0] for s in seen["statements"]] == ["UPDATE", "SELECT"], seen["statements"]
    assert (seen["commits"], seen["rollbacks"]) == (1, 0)


def test_a_marked_device_s_report_reads_nothing_of_convergence(runtime, client, admin, enrolled, fleet, counted):
    """A report ending the session of a marked device skips convergence as an Idle does (the
    epoch is read with the locked device): no artifact rows, no blueprint items."""
    sim, device_id = enrolled("mac")
    converged(runtime, sim, device_id)
    resp = client.post(f"/api/mdm/devices/{device_id}/commands/", headers=admin, json={"name": "SecurityInfo"})
    assert resp.status_code == 201, resp.json
    with counted() as seen:
        assert sim.connect() == [("SecurityInfo", "Acknowledged")], sim.errors
    read = [s for s in seen["statements"] if s.startswith(("SELECT device_artifacts", "SELECT blueprint_artifacts",
                                                            "SELECT blueprints"))]
    # the Idle's session UPDATE, its work and the hand-out; the report's lookup, status, device
    # and next hand-out (none): no SAVEPOINT, RELEASE
    assert read == [] and len(seen["statements"]) == 7, seen["statements"]
    assert mark_of(runtime, device_id) == current(runtime)


def test_a_report_that_changes_the_device_s_scope_converges_in_the_same_session(runtime, client, admin, enrolled,
                                                                                 fleet):
    """A marked device reports an OS version its item excludes: the report clears the mark
    before the steps read it, so the profile is removed in the same session."""
    sim, device_id = enrolled("mac")
    converged(runtime, sim, device_id)
    sim.facts.os_version = "99.0"  # the item applies below macOS 99
    resp = client.post(f"/api/mdm/devices/{device_id}/commands/", headers=admin, json={"name": "DeviceInformation"})
    assert resp.status_code == 201, resp.json
    assert sim.connect() == [("DeviceInformation", "Acknowledged"), ("RemoveProfile", "Acknowledged")], sim.errors


def _new_version(client, admin, fleet, sim, device_id):
    client.post("/api/mdm/profiles/", headers=admin, json={
        "artifact": fleet["artifact"]["id"], "version": 2, "macos": True, "source": b64(mobileconfig(version=2))})
    return "InstallProfile"


def _new_source(client, admin, fleet, sim, device_id):
    v1 = fleet["v1"]
    resp = client.put(f"/api/mdm/profiles/{v1['id']}/", headers=admin, json={
        "artifact": v1["artifact"], "version": 1, "macos": True, "source": b64(mobileconfig(version=7))})
    assert resp.status_code == 200, resp.json
    return "InstallProfile"


def _tagged(client, admin, fleet, sim, device_id):
    resp = client.post("/api/inventory/machines/tags/", headers=admin, json={
        "serial_numbers": [sim.facts.serial], "operations": [{"kind": "ADD", "names": ["no-wifi"]}]})
    assert resp.status_code == 200, resp.json
    return "RemoveProfile"


def _item_rescoped(client, admin, fleet, sim, device_id):
    item = fleet["item"]
    resp = client.put(f"/api/mdm/blueprint_artifacts/{item['id']}/", headers=admin, json={
        "blueprint": item["blueprint"], "artifact": item["artifact"], "macos": True, "macos_max_version": "14"})
    assert resp.status_code == 200, resp.json
    return "RemoveProfile"


def _item_deleted(client, admin, fleet, sim, device_id):
    assert client.delete(f"/api/mdm/blueprint_artifacts/{fleet['item']['id']}/", headers=admin).status_code == 204
    return "RemoveProfile"


def _second_artifact(client, admin, fleet, sim, device_id):
    art = client.post("/api/mdm/artifacts/", headers=admin, json={
        "name": "VPN", "type": "Profile", "channel": "Device", "platforms": ["macOS"]}).json
    client.post("/api/mdm/profiles/", headers=admin, json={
        "artifact": art["id"], "version": 1, "macos": True, "source": b64(mobileconfig("com.example.vpn"))})
    client.post("/api/mdm/blueprint_artifacts/", headers=admin, json={
        "blueprint": fleet["blueprint"]["id"], "artifact": art["id"], "macos": True})
    return "InstallProfile"


def _off_the_blueprint(client, admin, fleet, sim, device_id):
    resp = client.patch(f"/api/mdm/devices/{device_id}/", headers=admin, json={"blueprint": None})
    assert resp.status_code == 200, resp.json
    return "RemoveProfile"


@pytest.mark.parametrize("change", [_new_version, _new_source, _tagged, _item_rescoped, _item_deleted,
                                    _second_artifact, _off_the_blueprint])
def test_each_change_brings_a_converged_device_back(runtime, client, admin, enrolled, fleet, change):
    sim, device_id = enrolled("mac")
    converged(runtime, sim, device_id)
    expected = change(client, admin, fleet, sim, device_id)
    assert sim.connect() == [(expected, "Acknowledged")], sim.errors
    assert sim.connect() == [], sim.errors
    assert mark_of(runtime, device_id) == current(runtime)  # converged again, at the new epoch


def test_device_flows_leave_the_epoch_alone(runtime, client, admin, enrolled, fleet):
    """Enrollment, convergence, results, inventory and a ProfileList write no watched row:
    the epoch is one row every admin change locks, never the devices' hot path."""
    before = current(runtime)
    sim, device_id = enrolled("mac")
    converged(runtime, sim, device_id)
    for name in ("DeviceInformation", "ProfileList", "SecurityInfo"):
        assert client.post(f"/api/mdm/devices/{device_id}/commands/", headers=admin,
                           json={"name": name}).status_code == 201
    assert sim.connect() == [(n, "Acknowledged") for n in ("DeviceInformation", "ProfileList", "SecurityInfo")]
    assert current(runtime) == before


def test_a_profile_list_that_finds_the_profile_gone_clears_the_mark(runtime, client, admin, enrolled, fleet):
    sim, device_id = enrolled("mac")
    converged(runtime, sim, device_id)
    sim.profiles.pop("com.example.wifi")  # removed behind our back
    assert client.post(f"/api/mdm/devices/{device_id}/commands/", headers=admin,
                       json={"name": "ProfileList"}).status_code == 201
    assert sim.connect() == [("ProfileList", "Acknowledged"), ("InstallProfile", "Acknowledged")], sim.errors
    assert "com.example.wifi" in sim.profiles


def test_flush_rules(runtime, enrolled, fleet):
    """The session events themselves: what bumps, what clears a mark, what does neither."""
    sim, device_id = enrolled("mac")
    converged(runtime, sim, device_id)
    db = runtime.db

    def marked() -> None:
        epoch = current(runtime)
        with db.session() as s, s.begin():
            s.execute(update(EnrolledDevice).where(EnrolledDevice.id == device_id).values(converged_epoch=epoch))

    start = current(runtime)
    with db.session() as s, s.begin():  # a command and a device's non-scope columns: nothing
        device = s.get(EnrolledDevice, device_id)
        device.name, device.last_seen_at = "renamed", device.last_seen_at
        s.add(DeviceCommand(enrolled_device_id=device_id, name="DeviceInformation", uuid="E" * 36))
    assert current(runtime) == start and mark_of(runtime, device_id) == start
    with db.session() as s, s.begin():  # a bulk statement on a watched table bumps
        s.execute(update(DeviceArtifact).where(DeviceArtifact.enrolled_device_id == -1).values(error_chain=None))
    assert current(runtime) == start + 1
    marked()
    with db.session() as s, s.begin():  # the OS version, on the ORM device: its mark goes in the same UPDATE
        s.get(EnrolledDevice, device_id).os_version = "15.0"
    assert mark_of(runtime, device_id) is None and current(runtime) == start + 1
    marked()
    with db.session() as s, s.begin():  # its artifact row, device not loaded: a Core UPDATE clears the mark
        s.scalar(select(DeviceArtifact).where(DeviceArtifact.enrolled_device_id == device_id)).error_chain = [{"x": 1}]
    assert mark_of(runtime, device_id) is None
    marked()
    with db.session() as s, s.begin():  # the same, device loaded
        s.get(EnrolledDevice, device_id)
        s.scalar(select(DeviceArtifact).where(DeviceArtifact.enrolled_device_id == device_id)).error_chain = None
    assert mark_of(runtime, device_id) is None
    marked()
    with db.session() as s:
        with s.begin():  # convergence's own writes while it evaluates clear nothing ...
            epochs.evaluating(s, device_id)
            s.scalar(select(DeviceArtifact).where(DeviceArtifact.enrolled_device_id == device_id)).error_chain = [{}]
        assert mark_of(runtime, device_id) is not None
        with s.begin():  # ... in that transaction only
            s.scalar(select(DeviceArtifact).where(DeviceArtifact.enrolled_device_id == device_id)).error_chain = None
        assert mark_of(runtime, device_id) is None
    with db.session() as s:
        assert s.get(ConvergenceEpoch, 1).value == start + 1  # CURRENT reads the one row


def test_the_blueprint_cache_serves_its_epoch_only_and_outlives_its_loader(runtime, fleet, counted):
    from espalier.mdm.blueprint_cache import BlueprintCache

    cache, bp_id = BlueprintCache(), fleet["blueprint"]["id"]
    with runtime.db.session() as s:
        with s.begin():
            assert cache.get(s, bp_id, 5).name == "Fleet"
            s.rollback()  # the loader's objects expire; the entry is its own copy
    with runtime.db.session() as s, s.begin():
        with counted() as seen:
            merged = cache.get(s, bp_id, 5)
            assert (merged.name, merged.legacy_profiles_via_ddm, merged.filevault_config) == ("Fleet", False, None)
            assert merged in s and s.get(type(merged), bp_id) is merged  # later steps' s.get: no statement
        assert seen["statements"] == []
    with runtime.db.session() as s, s.begin():
        with counted() as seen:
            assert cache.get(s, bp_id, 6).name == "Fleet"  # a newer epoch: read again
        assert len(seen["statements"]) == 1
    with runtime.db.session() as s, s.begin():
        with counted() as seen:
            cache.get(s, bp_id, 5)  # an older epoch than the cache's: read, not kept
            cache.get(s, bp_id, 6)
        assert len(seen["statements"]) == 1


def test_a_bulk_update_of_a_device_s_scope_clears_its_marks(runtime, enrolled, fleet):
    """A bulk UPDATE through a session that sets a scope column clears the marks of the rows it
    updates (in the statement, or by id for an UPDATE by primary key); one that sets no scope
    column, or sets the marks itself, leaves them as it says."""
    sim, device_id = enrolled("mac")
    converged(runtime, sim, device_id)
    db = runtime.db
    epoch = current(runtime)

    def marks() -> tuple:
        with db.session() as s:
            return tuple(s.execute(select(EnrolledDevice.converged_epoch, EnrolledDevice.declarations_epoch)
                                   .where(EnrolledDevice.id == device_id)).one())

    def marked() -> None:
        with db.session() as s, s.begin():
            s.execute(update(EnrolledDevice.__table__).where(EnrolledDevice.id == device_id)
                      .values(converged_epoch=epoch, declarations_epoch=epoch))
        assert marks() == (epoch, epoch)

    marked()
    with db.session() as s, s.begin():  # no scope column: the marks stay
        s.execute(update(EnrolledDevice).where(EnrolledDevice.id == device_id).values(name="bulk"))
    assert marks() == (epoch, epoch)
    with db.session() as s, s.begin():  # the blueprint, by WHERE: cleared in the same statement
        s.execute(update(EnrolledDevice).where(EnrolledDevice.id == device_id).values(blueprint_id=None),
                  execution_options={"synchronize_session": False})
    assert marks() == (None, None)
    marked()
    with db.session() as s, s.begin():  # a Core table statement, the DDM token
        s.execute(update(EnrolledDevice.__table__).where(EnrolledDevice.id == device_id)
                  .values(declarations_token_queued="t"))
    assert marks() == (None, None)
    marked()
    with db.session() as s, s.begin():  # by primary key, a list of rows
        s.execute(update(EnrolledDevice), [{"id": device_id, "os_version": "15.1"}])
    assert marks() == (None, None)
    marked()
    with db.session() as s, s.begin():  # rows setting different columns: a later row's scope counts too
        s.execute(update(EnrolledDevice), [{"id": device_id, "name": "first"}, {"id": device_id, "os_version": "15.2"}])
    assert marks() == (None, None)
    marked()
    with db.session() as s, s.begin():  # the statement sets a mark itself: that one is kept
        s.execute(update(EnrolledDevice).where(EnrolledDevice.id == device_id)
                  .values(supervised=False, converged_epoch=epoch))
    assert marks() == (epoch, None)
    with db.session() as s:  # the bulk device statements moved no epoch
        assert s.scalar(epochs.CURRENT) == epoch
