"""mdm/softwareupdate.declarations and record_status, called as the DDM module calls them:
with a Context and the ORM device (explicit targets, latest minus N days from the fake
catalogue, tags, devices at or above the target, token stability, junk status reports)."""
from __future__ import annotations

from datetime import datetime, time

import pytest
from sqlalchemy import event

from espalier.mdm import softwareupdate
from espalier.models import DeviceSoftwareUpdate, EnrolledDevice
from espalier.services import software_update_enforcements as enforcements
from espalier.services import tags as tags_svc
from espalier.tasks.software_updates import sync_software_updates

NOW = datetime(2024, 11, 10, 12, 0)


@pytest.fixture
def catalogue(runtime, gdmf):
    assert sync_software_updates(runtime)["created"] > 0


@pytest.fixture
def blueprint(client, admin):
    return client.post("/api/mdm/blueprints/", headers=admin, json={"name": "BP"}).json["id"]


def enforce(runtime, blueprint_id, tags=(), **data):
    """A new enforcement on the blueprint (added to the ones it has)."""
    data = {"name": f"E{datetime.now().timestamp()}", "platforms": ["macOS"], **data}
    with runtime.db.session() as s, s.begin():
        if tags:
            data["tags"] = list(tags)
        e = enforcements.save(s, data)
        ids = enforcements.of_blueprints(s, [blueprint_id])[blueprint_id]
        enforcements.set_for_blueprint(s, blueprint_id, ids + [e.id])
        return e.id


def declarations(runtime, device_id, now=NOW, statements=None):
    with runtime.db.session() as s, s.begin():
        device = s.get(EnrolledDevice, device_id)
        ctx = runtime.mdm_context(s)
        ctx.now = now
        if statements is None:
            return softwareupdate.declarations(ctx, device)
        seen = []

        def count(conn, cursor, statement, *args):
            seen.append(statement)
        event.listen(s.get_bind(), "before_cursor_execute", count)
        try:
            return softwareupdate.declarations(ctx, device)
        finally:
            event.remove(s.get_bind(), "before_cursor_execute", count)
            statements.extend(seen)


def record(runtime, device_id, items, now=NOW):
    with runtime.db.session() as s, s.begin():
        ctx = runtime.mdm_context(s)
        ctx.now = now
        softwareupdate.record_status(ctx, s.get(EnrolledDevice, device_id), items)


def set_catalogue_id(runtime, device_id, value):
    record(runtime, device_id, {"softwareupdate": {"device-id": value}})


def test_an_explicit_target(runtime, make_device, blueprint):
    enforce(runtime, blueprint, os_version="15.1", build_version="24B83", local_datetime=datetime(2024, 12, 1, 10),
            details_url="https://example.com/update")
    device = make_device(blueprint_id=blueprint, os_version="14.6", build_version="23G80")
    statements = []
    (d,) = declarations(runtime, device.id, statements=statements)
    assert len(statements) == 1
    assert d["Type"] == "com.apple.configuration.softwareupdate.enforcement.specific"
    assert d["Identifier"] == f"espalier.blueprint.{blueprint}.softwareupdate-enforcement"
    assert d["Payload"] == {"TargetOSVersion": "15.1", "TargetBuildVersion": "24B83",
                            "TargetLocalDateTime": "2024-12-01T10:00:00", "DetailsURL": "https://example.com/update"}
    assert len(d["Identifier"].encode()) <= 64 and len(d["ServerToken"].encode()) <= 64
    assert declarations(runtime, device.id) == [d]  # stable


def test_the_token_changes_iff_the_payload_does(runtime, make_device, blueprint):
    e = enforce(runtime, blueprint, os_version="15.1", local_datetime=datetime(2024, 12, 1, 10))
    device = make_device(blueprint_id=blueprint, os_version="14.6")
    (first,) = declarations(runtime, device.id)
    assert "TargetBuildVersion" not in first["Payload"] and "DetailsURL" not in first["Payload"]
    with runtime.db.session() as s, s.begin():
        enforcements.save(s, {"name": "renamed", "platforms": ["macOS", "iOS"], "os_version": "15.1",
                              "local_datetime": datetime(2024, 12, 1, 10)}, e)
    assert declarations(runtime, device.id) == [first]  # name and platforms are not in the payload
    with runtime.db.session() as s, s.begin():
        enforcements.save(s, {"name": "renamed", "platforms": ["macOS"], "os_version": "15.1",
                              "local_datetime": datetime(2024, 12, 2, 10)}, e)
    (second,) = declarations(runtime, device.id)
    assert second["Identifier"] == first["Identifier"] and second["ServerToken"] != first["ServerToken"]


def test_no_declaration_at_or_above_the_target_or_without_ddm_support(runtime, make_device, blueprint):
    enforce(runtime, blueprint, os_version="15.1", local_datetime=datetime(2024, 12, 1, 10))
    for os_version in ("15.1", "15.1.1", "16.0", "13.6.1", "", None, "junk"):
        device = make_device(blueprint_id=blueprint, os_version=os_version)
        assert declarations(runtime, device.id) == [], os_version
    assert declarations(runtime, make_device(os_version="14.0").id) == []  # no blueprint
    assert declarations(runtime, make_device(blueprint_id=blueprint, os_version="14.0", user_enrollment=True).id) == []
    assert declarations(runtime, make_device(blueprint_id=blueprint, os_version="14.0", supervised=False).id) == []
    assert declarations(runtime, make_device(blueprint_id=blueprint, os_version="14.0", supervised=True).id) != []
    assert declarations(runtime, make_device(blueprint_id=blueprint, os_version="14.0").id) != []
    # the enforcement is for macOS: an iPhone on the same blueprint gets none
    assert declarations(runtime, make_device(blueprint_id=blueprint, platform="iOS", os_version="17.1",
                                             model="iPhone15,2").id) == []


@pytest.mark.parametrize("platform, minimum, below", [("iOS", "17.0", "16.7.2"), ("iPadOS", "17.0", "16.7"),
                                                     ("tvOS", "18.4", "18.3"), ("macOS", "14.0", "13.6")])
def test_the_declaration_needs_its_minimum_os(runtime, make_device, client, admin, platform, minimum, below):
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": platform}).json["id"]
    enforce(runtime, bp, platforms=[platform], os_version="99.1", local_datetime=datetime(2030, 1, 1))
    assert declarations(runtime, make_device(blueprint_id=bp, platform=platform, os_version=minimum).id) != []
    assert declarations(runtime, make_device(blueprint_id=bp, platform=platform, os_version=below).id) == []


def test_latest_minus_n_days_from_the_catalogue(runtime, make_device, blueprint, catalogue):
    enforce(runtime, blueprint, max_os_version="15", delay_days=7, local_time=time(8, 0))
    device = make_device(blueprint_id=blueprint, os_version="14.6", build_version="23G80")
    set_catalogue_id(runtime, device.id, "J274AP")
    statements = []
    (d,) = declarations(runtime, device.id, statements=statements)
    assert len(statements) == 2
    # the newest below 15 (excluded) that MDM may enforce: 14.7.1, posted 2024-10-28, + 7 days at 08:00
    assert d["Payload"] == {"TargetOSVersion": "14.7.1", "TargetBuildVersion": "23H222",
                            "TargetLocalDateTime": "2024-11-04T08:00:00"}


def test_latest_takes_the_background_security_improvement_for_its_build(runtime, make_device, blueprint, catalogue):
    enforce(runtime, blueprint, max_os_version="16")  # delay 14 days, 09:30 by default
    on_15_1 = make_device(blueprint_id=blueprint, os_version="15.1", build_version="24B83")
    on_15_0 = make_device(blueprint_id=blueprint, os_version="15.0", build_version="24A335")
    for device in (on_15_1, on_15_0):
        set_catalogue_id(runtime, device.id, "J274AP")
    assert declarations(runtime, on_15_1.id)[0]["Payload"] == {
        "TargetOSVersion": "15.1 (a)", "TargetBuildVersion": "24B83a", "TargetLocalDateTime": "2024-11-19T09:30:00"}
    assert declarations(runtime, on_15_0.id)[0]["Payload"] == {
        "TargetOSVersion": "15.1", "TargetBuildVersion": "24B83", "TargetLocalDateTime": "2024-11-11T09:30:00"}


def test_latest_follows_the_device_id_and_availability(runtime, make_device, blueprint, catalogue):
    enforce(runtime, blueprint, max_os_version="14.7.1")
    device = make_device(blueprint_id=blueprint, os_version="14.5")
    set_catalogue_id(runtime, device.id, "J274AP")
    assert declarations(runtime, device.id)[0]["Payload"]["TargetOSVersion"] == "14.7"
    assert declarations(runtime, device.id, now=datetime(2024, 12, 2))[0:] == []  # 14.7 expired on 2024-12-01
    assert declarations(runtime, device.id, now=datetime(2024, 9, 1)) == []  # not posted yet
    set_catalogue_id(runtime, device.id, "VMA2MACOSAP")  # 14.7 is not offered to this model
    assert declarations(runtime, device.id) == []
    set_catalogue_id(runtime, device.id, "UNKNOWN1")
    assert declarations(runtime, device.id) == []
    # a device that never said its id: every entry of its platform
    unknown = make_device(blueprint_id=blueprint, os_version="14.5")
    assert declarations(runtime, unknown.id)[0]["Payload"]["TargetOSVersion"] == "14.7"


def test_an_empty_catalogue_gives_no_declaration(runtime, make_device, blueprint):
    enforce(runtime, blueprint, max_os_version="15")
    assert declarations(runtime, make_device(blueprint_id=blueprint, os_version="14.0").id) == []


def test_tags_pick_the_enforcement(runtime, make_device, blueprint):
    with runtime.db.session() as s, s.begin():
        beta = tags_svc.save(s, {"name": "beta"}).id
        other = tags_svc.save(s, {"name": "other"}).id
    enforce(runtime, blueprint, os_version="15.0", local_datetime=datetime(2025, 1, 1))
    enforce(runtime, blueprint, tags=[beta], os_version="15.1", local_datetime=datetime(2025, 2, 1))
    enforce(runtime, blueprint, tags=[other], os_version="15.2", local_datetime=datetime(2025, 3, 1))
    plain = make_device(blueprint_id=blueprint, os_version="14.6")
    tagged = make_device(blueprint_id=blueprint, os_version="14.6")
    with runtime.db.session() as s, s.begin():
        tags_svc.update_machine_tags(s, [tagged.serial_number], [{"kind": "ADD", "taxonomy": None, "names": ["beta"]}])
    assert declarations(runtime, plain.id)[0]["Payload"]["TargetOSVersion"] == "15.0"
    assert declarations(runtime, tagged.id)[0]["Payload"]["TargetOSVersion"] == "15.1"
    statements = []
    declarations(runtime, tagged.id, statements=statements)
    assert len(statements) == 1


def test_a_tagged_enforcement_only_applies_to_tagged_devices(runtime, make_device, blueprint):
    with runtime.db.session() as s, s.begin():
        beta = tags_svc.save(s, {"name": "beta"}).id
    enforce(runtime, blueprint, tags=[beta], os_version="15.1", local_datetime=datetime(2025, 2, 1))
    assert declarations(runtime, make_device(blueprint_id=blueprint, os_version="14.6").id) == []


def test_record_status(runtime, make_device):
    device = make_device(os_version="14.6", build_version="23G80")
    record(runtime, device.id, {
        "softwareupdate": {"install-state": "downloading",
                           "pending-version": {"os-version": "15.1", "build-version": "24B83"},
                           "failure-reason": {"count": 2, "reason": "not enough space", "timestamp": "2024-11-09T10:00:00Z"},
                           "install-reason": {"reason": ["declarative-enforcement"]},
                           "device-id": "J274AP"},
        "device": {"operating-system": {"version": "14.7", "build-version": "23H124"}}})
    with runtime.db.session() as s:
        state = s.get(DeviceSoftwareUpdate, device.id)
        assert (state.install_state, state.pending_os_version, state.pending_build_version,
                state.software_update_device_id, state.reported_at) == ("downloading", "15.1", "24B83", "J274AP", NOW)
        assert state.failure_reason == {"count": 2, "reason": "not enough space", "timestamp": "2024-11-09T10:00:00Z"}
        assert state.install_reason == ["declarative-enforcement"]
        d = s.get(EnrolledDevice, device.id)
        assert (d.os_version, d.build_version) == ("14.7", "23H124")
    # a partial report changes what it names
    record(runtime, device.id, {"softwareupdate": {"install-state": "installing"}})
    with runtime.db.session() as s:
        state = s.get(DeviceSoftwareUpdate, device.id)
        assert (state.install_state, state.pending_os_version) == ("installing", "15.1")


JUNK = [None, [], "x", 5, {"softwareupdate": []}, {"softwareupdate": "x"}, {"device": []}, {"device": {"operating-system": 3}},
        {"softwareupdate": {"install-state": 5, "pending-version": "15.1", "failure-reason": [1],
                            "install-reason": {"reason": "x"}, "device-id": {"a": 1}}},
        {"softwareupdate": {"install-state": "x" * 10_000, "device-id": "bad id\x00",
                            "failure-reason": {"count": True, "reason": 7}}},
        {"softwareupdate": {"pending-version": {"os-version": ["15"], "build-version": 24}}},
        {"device": {"operating-system": {"version": ["14"], "build-version": "x" * 100}}},
        {"device": {"operating-system": {"version": "not a version", "build-version": None}}},
        {"softwareupdate": {"install-reason": {"reason": [1, None, "ok\x00"]}}},
        {"softwareupdate": {"failure-reason": {"count": 2**40}}}]


def test_record_status_ignores_junk(runtime, make_device):
    device = make_device(os_version="14.6", build_version="23G80")
    record(runtime, device.id, {"softwareupdate": {"install-state": "downloaded", "device-id": "J274AP"}})
    for items in JUNK:
        record(runtime, device.id, items)
    with runtime.db.session() as s:
        state = s.get(DeviceSoftwareUpdate, device.id)
        assert (state.install_state, state.software_update_device_id) == ("downloaded", "J274AP")
        assert state.pending_os_version is None and state.pending_build_version is None
        assert state.failure_reason is None and state.install_reason is None
        d = s.get(EnrolledDevice, device.id)
        assert (d.os_version, d.build_version) == ("14.6", "23G80")


def test_device_information_records_the_catalogue_id(runtime, make_device):
    from espalier.mdm.commands.device_information import DeviceInformation

    device = make_device()
    with runtime.db.session() as s, s.begin():
        ctx = runtime.mdm_context(s)
        DeviceInformation.process_result(ctx, s.get(EnrolledDevice, device.id), None,
                                         {"QueryResponses": {"SoftwareUpdateDeviceID": "J274AP"}})
    with runtime.db.session() as s:
        assert s.get(DeviceSoftwareUpdate, device.id).software_update_device_id == "J274AP"


def test_a_huge_delay_does_not_overflow(runtime, make_device, blueprint, catalogue):
    enforce(runtime, blueprint, max_os_version="15", delay_days=2**31 - 1)
    device = make_device(blueprint_id=blueprint, os_version="14.0")
    set_catalogue_id(runtime, device.id, "J274AP")
    assert declarations(runtime, device.id)[0]["Payload"]["TargetLocalDateTime"] == "9999-12-31T23:59:59"


def test_a_device_on_the_background_security_improvement_is_at_the_target(runtime, make_device, blueprint,
                                                                           catalogue):
    enforce(runtime, blueprint, max_os_version="16")
    device = make_device(blueprint_id=blueprint, os_version="15.1", build_version="24B83")
    set_catalogue_id(runtime, device.id, "J274AP")
    assert declarations(runtime, device.id)[0]["Payload"]["TargetOSVersion"] == "15.1 (a)"
    record(runtime, device.id, {"device": {"operating-system": {
        "version": "15.1", "build-version": "24B83", "supplemental": {"extra-version": "(a)",
                                                                      "build-version": "24B83a"}}}})
    statements = []
    assert declarations(runtime, device.id, statements=statements) == []
    assert len(statements) == 2
    # a later report without the supplemental part: the device is back on plain 15.1
    record(runtime, device.id, {"device": {"operating-system": {"version": "15.1", "build-version": "24B83"}}})
    assert declarations(runtime, device.id)[0]["Payload"]["TargetOSVersion"] == "15.1 (a)"
