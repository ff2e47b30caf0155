"""GET /api/mdm/software_update_enforcements/<id>/devices/: in-scope devices below the target."""
from __future__ import annotations

from datetime import datetime

from test_declarations import enforce, record, set_catalogue_id

from espalier.services import tags as tags_svc
from espalier.tasks.software_updates import sync_software_updates


def devices(client, headers, enforcement_id, query=""):
    return client.get(f"/api/mdm/software_update_enforcements/{enforcement_id}/devices/{query}", headers=headers)


def test_devices_below_an_explicit_target(client, admin, make_token, runtime, make_device):
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "BP"}).json["id"]
    other_bp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "Other"}).json["id"]
    e = enforce(runtime, bp, os_version="15.1", build_version="24B83", local_datetime=datetime(2024, 12, 1, 10))
    below = make_device(blueprint_id=bp, os_version="14.6")
    make_device(blueprint_id=bp, os_version="15.1")  # at the target
    make_device(blueprint_id=bp, os_version="16.0")  # above
    make_device(blueprint_id=other_bp, os_version="14.0")  # another blueprint
    make_device(blueprint_id=bp, platform="iOS", os_version="17.0", model="iPhone15,2")  # another platform
    also_below = make_device(blueprint_id=bp, os_version="13.6")  # below the DDM minimum, still below the target
    record(runtime, below.id, {"softwareupdate": {"install-state": "downloading",
                                                  "pending-version": {"os-version": "15.1", "build-version": "24B83"}}})
    resp = devices(client, admin, e)
    assert resp.status_code == 200, resp.json
    assert [d["id"] for d in resp.json] == [below.id, also_below.id]
    first = resp.json[0]
    assert first == {"id": below.id, "serial_number": below.serial_number, "udid": below.udid, "platform": "macOS",
                     "os_version": "14.6", "build_version": "23C71", "target_os_version": "15.1",
                     "target_build_version": "24B83", "target_local_datetime": "2024-12-01T10:00:00",
                     "install_state": "downloading", "pending_os_version": "15.1", "pending_build_version": "24B83",
                     "failure_reason": None, "install_reason": None, "reported_at": first["reported_at"]}
    assert first["reported_at"] is not None and resp.json[1]["install_state"] is None
    page = devices(client, admin, e, "?limit=1").json
    assert page["count"] == 2 and [d["id"] for d in page["results"]] == [below.id] and page["next"]
    assert devices(client, admin, 999999).status_code == 404
    assert devices(client, make_token("mdm.view_softwareupdateenforcement"), e).status_code == 403
    assert devices(client, make_token("mdm.view_softwareupdateenforcement", "mdm.view_enrolleddevice"),
                   e).status_code == 200


def test_devices_below_latest_and_the_tag_rule(client, admin, runtime, make_device, gdmf):
    sync_software_updates(runtime)
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "BP"}).json["id"]
    with runtime.db.session() as s, s.begin():
        beta = tags_svc.save(s, {"name": "beta"}).id
    latest = enforce(runtime, bp, max_os_version="15")
    beta_only = enforce(runtime, bp, tags=[beta], os_version="15.1", local_datetime=datetime(2024, 12, 1))
    plain = make_device(blueprint_id=bp, os_version="14.6")
    set_catalogue_id(runtime, plain.id, "J274AP")
    tagged = make_device(blueprint_id=bp, os_version="14.6")
    with runtime.db.session() as s, s.begin():
        tags_svc.update_machine_tags(s, [tagged.serial_number], [{"kind": "ADD", "taxonomy": None, "names": ["beta"]}])
    resp = devices(client, admin, latest).json
    assert [(d["id"], d["target_os_version"], d["target_build_version"]) for d in resp] == [
        (plain.id, "14.7.1", "23H222")]
    assert resp[0]["target_local_datetime"] == "2024-11-11T09:30:00"
    assert [d["id"] for d in devices(client, admin, beta_only).json] == [tagged.id]
