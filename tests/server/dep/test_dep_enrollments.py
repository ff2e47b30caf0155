"""DEP enrollments through the API: Zentral's fields, Apple's profile define, assignment, the default."""
from __future__ import annotations

import pytest
from fakes.abm import make_device
from test_api_dep import setup_server

from espalier.models import DEPDevice, EnrolledDevice
from espalier.services import dep_enrollments


@pytest.fixture
def mdm_settings(fake):
    return {"abm": {"base_url": fake.base_url, "ca_file": fake.ca_file, "assign_retry_max_seconds": 1}}


def create(client, admin, server_id, push_certificate, **fields):
    body = {"name": "Staff Macs", "virtual_server": server_id, "push_certificate": push_certificate["id"],
            "is_supervised": True, "is_mdm_removable": False, "skip_setup_items": ["AppleID", "Siri"],
            "enrollment_secret": {"meta_business_unit": 1, "tags": []}, "use_realm_user": False, "realm": None,
            "scep_issuer": "6e8f1c5e-0000-4000-8000-000000000000", **fields}
    return client.post("/api/mdm/dep_enrollments/", headers=admin, json=body)


def sync(client, admin, server_id):
    resp = client.post(f"/api/mdm/dep/virtual_servers/{server_id}/sync_devices/", headers=admin)
    result = client.get(resp.json["task_result_url"], headers=admin).json
    assert result["status"] == "SUCCESS", result
    return result["result"]


def test_create_defines_the_profile_at_apple(client, admin, make_token, fake, push_certificate):
    server_id = setup_server(client, admin, fake)
    resp = create(client, admin, server_id, push_certificate, department="IT", language="en", region="US")
    assert resp.status_code == 201, resp.json
    e = resp.json
    assert e["profile_uuid"] in fake.profiles and e["defined_at"]
    profile = fake.profiles[e["profile_uuid"]]
    assert profile["url"] == e["enroll_url"] and e["secret"] in e["enroll_url"]
    assert e["enroll_url"].endswith(f"/public/mdm/dep_enrollments/{e['secret']}/enroll/")
    assert profile["profile_name"] == "Staff Macs" and profile["is_mdm_removable"] is False
    assert profile["skip_setup_items"] == ["AppleID", "Siri"] and profile["department"] == "IT"
    assert e["use_realm_user"] is False and e["realm"] is None and e["enrollment_secret"]["secret"] == e["secret"]
    # without the enrollment secret permission: no secret, no URL
    viewer = make_token("mdm.view_depenrollment")
    seen = client.get(f"/api/mdm/dep_enrollments/{e['id']}/", headers=viewer).json
    assert seen["secret"] is None and seen["enroll_url"] is None and seen["enrollment_secret"]["secret"] is None
    listed = client.get("/api/mdm/dep_enrollments/?name=Staff%20Macs", headers=viewer).json
    assert [x["id"] for x in listed] == [e["id"]] if isinstance(listed, list) else listed["count"] == 1
    assert client.post("/api/mdm/dep_enrollments/", headers=viewer, json={}).status_code == 403


def test_validation_and_apple_refusals(client, admin, fake, push_certificate):
    server_id = setup_server(client, admin, fake)
    bad = create(client, admin, server_id, push_certificate, is_supervised=False, is_mdm_removable=False)
    assert bad.status_code == 400 and "is_mdm_removable" in bad.json
    assert create(client, admin, server_id, push_certificate, skip_setup_items=["Nope"]).status_code == 400
    assert "realm" in create(client, admin, server_id, push_certificate, realm="x").json
    assert "use_realm_user" in create(client, admin, server_id, push_certificate, use_realm_user=True).json
    assert "macos_min_version" in create(client, admin, server_id, push_certificate, macos_min_version="x").json
    assert "admin_short_name" in create(client, admin, server_id, push_certificate, admin_full_name="Admin").json
    assert "virtual_server" in create(client, admin, 999, push_certificate).json
    fake.profile_error = "DEPARTMENT_INVALID"
    refused = create(client, admin, server_id, push_certificate)
    assert refused.status_code == 400 and "DEPARTMENT_INVALID" in str(refused.json)
    fake.profile_error = None
    assert client.get("/api/mdm/dep_enrollments/", headers=admin).json == [] or \
        client.get("/api/mdm/dep_enrollments/", headers=admin).json.get("count") == 0
    ok = create(client, admin, server_id, push_certificate)
    assert ok.status_code == 201
    assert create(client, admin, server_id, push_certificate).json == {
        "name": ["dep enrollment with this name already exists."]}


def test_an_update_apple_holds_defines_again_and_reassigns(client, admin, runtime, fake, push_certificate):
    server_id = setup_server(client, admin, fake)
    sync(client, admin, server_id)
    e = create(client, admin, server_id, push_certificate).json
    device = client.get("/api/mdm/dep/devices/?serial_number=FAKE00000001", headers=admin).json["results"][0]
    resp = client.put(f"/api/mdm/dep/devices/{device['id']}/", headers=admin, json={"enrollment": e["id"]})
    assert resp.status_code == 200, resp.json
    assert fake.devices["FAKE00000001"]["profile_uuid"] == e["profile_uuid"]
    after = client.get(f"/api/mdm/dep/devices/{device['id']}/", headers=admin).json
    assert after["enrollment"] == e["id"] and after["profile_status"] == "assigned"
    # a field Espalier alone holds: no new profile
    same = client.put(f"/api/mdm/dep_enrollments/{e['id']}/", headers=admin, json={"macos_min_version": "14.1"}).json
    assert same["profile_uuid"] == e["profile_uuid"]
    # a field Apple holds: a new profile, and the device follows it
    new = client.put(f"/api/mdm/dep_enrollments/{e['id']}/", headers=admin, json={"department": "Ops"}).json
    assert new["profile_uuid"] != e["profile_uuid"] and fake.profiles[new["profile_uuid"]]["department"] == "Ops"
    assert fake.devices["FAKE00000001"]["profile_uuid"] == new["profile_uuid"]
    with runtime.db.session() as s:
        assert s.query(DEPDevice).filter_by(serial_number="FAKE00000001").one().profile_uuid == new["profile_uuid"]


def test_assignment_batches_and_throttling(client, admin, runtime, fake, push_certificate):
    server_id = setup_server(client, admin, fake)
    fake.add(*(make_device(100 + i) for i in range(2500)))
    sync(client, admin, server_id)
    e = create(client, admin, server_id, push_certificate).json
    fake.throttle_devices("FAKE00000107")
    with runtime.db.session() as s, s.begin():
        enrollment = s.get(dep_enrollments.DEPEnrollment, e["id"])
        devices = list(s.query(DEPDevice).filter(DEPDevice.serial_number.like("FAKE0000%")))
        task_id = dep_enrollments.assign(s, runtime, enrollment, devices)
    result = client.get(f"/api/task_result/{task_id}/", headers=admin).json
    assert result["status"] == "SUCCESS", result
    # 2,525 devices: 3 calls of at most 1,000, then the one throttled serial again
    calls = fake.calls("/profile/devices")
    assert [len(c[2]["devices"]) for c in calls[-4:]] == [1000, 1000, 525, 1]
    assert result["result"]["success"] == 2525 and result["result"]["throttled"] == 0
    assert fake.devices["FAKE00000107"]["profile_uuid"] == e["profile_uuid"]


def test_the_default_enrollment_takes_new_devices_after_a_sync(client, admin, make_token, runtime, fake,
                                                               push_certificate):
    server_id = setup_server(client, admin, fake)
    e = create(client, admin, server_id, push_certificate).json
    resp = client.put(f"/api/mdm/dep/virtual_servers/{server_id}/", headers=admin, json={"default_enrollment": e["id"]})
    assert resp.status_code == 200 and resp.json["default_enrollment"] == e["id"]
    assert client.put(f"/api/mdm/dep/virtual_servers/{server_id}/", headers=admin,
                      json={"default_enrollment": 999}).status_code == 400
    assert client.put(f"/api/mdm/dep/virtual_servers/{server_id}/", headers=make_token("mdm.view_depvirtualserver"),
                      json={"default_enrollment": None}).status_code == 403
    result = sync(client, admin, server_id)
    assert result.get("default_assignment_task")
    assert all(d["profile_uuid"] == e["profile_uuid"] for d in fake.devices.values())
    with runtime.db.session() as s:
        assert {d.enrollment_id for d in s.query(DEPDevice)} == {e["id"]}
    # the next sync has nothing new to assign
    before = len(fake.calls("/profile/devices"))
    assert "default_assignment_task" not in sync(client, admin, server_id)
    assert len(fake.calls("/profile/devices")) == before


def test_delete_is_refused_while_devices_are_enrolled(client, admin, runtime, fake, push_certificate):
    server_id = setup_server(client, admin, fake)
    e = create(client, admin, server_id, push_certificate).json
    client.put(f"/api/mdm/dep/virtual_servers/{server_id}/", headers=admin, json={"default_enrollment": e["id"]})
    with runtime.db.session() as s, s.begin():
        s.add(EnrolledDevice(udid="ADE-UDID-1", dep_enrollment_id=e["id"]))
    refused = client.delete(f"/api/mdm/dep_enrollments/{e['id']}/", headers=admin)
    assert refused.status_code == 400 and refused.json == ["This DEP enrollment cannot be deleted"]
    with runtime.db.session() as s, s.begin():
        s.query(EnrolledDevice).filter_by(udid="ADE-UDID-1").delete()
    assert client.delete(f"/api/mdm/dep_enrollments/{e['id']}/", headers=admin).status_code == 204
    assert client.get(f"/api/mdm/dep/virtual_servers/{server_id}/", headers=admin).json["default_enrollment"] is None
