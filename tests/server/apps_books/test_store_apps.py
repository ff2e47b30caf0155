"""Store apps end to end: a simulated device on a blueprint listing an App Store app, the
fake Apps and Books service licensing it, InstallApplication confirmed by
ManagedApplicationList, removal and the licence given back; on PostgreSQL."""
from __future__ import annotations

import plistlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from espalier.mdm import store_apps as step
from espalier.models import Asset, DeviceAssignment, LicenceRequest
from espalier.tasks import apps_books as jobs
from espalier.tasks import licences as licence_jobs

ADAM = "361309726"
CONFIG = plistlib.dumps({"ServerURL": "https://example.com", "Port": 443}).decode()


@pytest.fixture
def mdm_settings(fake):
    return {"mtls_proxy": True, "apps_books": {"url": fake.base_url, "ca_file": fake.ca_file}}


@pytest.fixture(autouse=True)
def no_wait(monkeypatch):
    monkeypatch.setattr(step, "CONFIRM_DELAY", timedelta(0))


@pytest.fixture
def store(wired, upload, runtime, client, admin, enrollment):
    """A location with the app (10 licences), a blueprint listing a macOS+iOS store app of it."""
    fake = wired
    fake.auto_complete = False
    loc = fake.add_location(assets=[(ADAM, "STDQ", 10)])
    location = upload(loc).json
    jobs.sync_location(runtime, location["id"])
    la = client.get(f"/api/mdm/location_assets/?adam_id={ADAM}", headers=admin).json[0]
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "Apps"}).json
    client.put(f"/api/mdm/ota_enrollments/{enrollment['id']}/", headers=admin, json={"blueprint": bp["id"]})
    art = client.post("/api/mdm/artifacts/", headers=admin, json={
        "name": "Keynote", "type": "Store App", "channel": "Device", "platforms": ["macOS", "iOS"]}).json
    resp = client.post("/api/mdm/store_apps/", headers=admin, json={
        "artifact": art["id"], "version": 1, "macos": True, "ios": True, "location_asset": la["id"],
        "configuration": CONFIG, "associated_domains": ["applinks:example.com"], "removable": True,
        "vpn_uuid": "3A9D2C6E-0F0B-4A4C-9D0B-5E1F2A3B4C5D"})
    assert resp.status_code == 201, resp.json
    item = client.post("/api/mdm/blueprint_artifacts/", headers=admin, json={
        "blueprint": bp["id"], "artifact": art["id"], "macos": True, "ios": True}).json
    return {"fake": fake, "loc": loc, "location": location, "la": la, "artifact": art, "v1": resp.json,
            "item": item}


def statuses(client, admin, device_id):
    return {a["artifact_version"]: a["status"] for a in
            client.get(f"/api/mdm/devices/{device_id}/artifacts/", headers=admin).json}


def licence_calls(fake, kind):
    return [r.body for r in fake.requests if r.path.endswith(f"assets/{kind}")]


def licensed(runtime, la_id, serial):
    with runtime.db.session() as s:
        return s.scalar(select(DeviceAssignment.id).where(DeviceAssignment.location_asset_id == la_id,
                                                          DeviceAssignment.serial_number == serial)) is not None


def test_a_mac_gets_a_licence_then_the_app_then_gives_both_back(store, enrolled, client, admin, runtime):
    fake, la = store["fake"], store["la"]
    sim, device_id = enrolled("mac")
    handled = sim.connect()
    assert not any(name == "InstallApplication" for name, _ in handled), handled  # no licence yet
    [call] = licence_calls(fake, "associate")  # asked for at once, after the connect committed
    assert call == {"assets": [{"adamId": ADAM, "pricingParam": "STDQ"}], "serialNumbers": [sim.facts.serial]}
    assert sim.connect() == []  # still waiting: asked once, not on every connect
    assert len(licence_calls(fake, "associate")) == 1
    [event_id] = list(fake.events)
    fake.complete(event_id)  # Apple assigns it and notifies us
    assert licensed(runtime, la["id"], sim.facts.serial)
    with runtime.db.session() as s:
        assert s.scalar(select(LicenceRequest.id)) is None

    handled = sim.connect()
    assert handled == [("InstallApplication", "Acknowledged"), ("ManagedApplicationList", "Acknowledged"),
                       ("ManagedApplicationList", "Acknowledged")], handled  # Installing, then Managed
    [install] = [c.command for c in sim.commands if c.request_type == "InstallApplication"]
    assert install["iTunesStoreID"] == int(ADAM) and install["InstallAsManaged"] is True
    assert install["Options"] == {"PurchaseMethod": 1} and install["ManagementFlags"] == 1
    assert install["Configuration"] == {"ServerURL": "https://example.com", "Port": 443}
    assert install["Attributes"] == {"AssociatedDomains": ["applinks:example.com"]}  # no iOS-only keys on macOS
    assert "ChangeManagementState" not in install
    assert statuses(client, admin, device_id) == {store["v1"]["id"]: "installed"}
    with runtime.db.session() as s:  # the device named the app: kept for the removal
        assert s.scalar(select(Asset.bundle_id).where(Asset.adam_id == ADAM)) == f"com.example.store.app{ADAM}"
    assert sim.connect() == []

    resp = client.delete(f"/api/mdm/blueprint_artifacts/{store['item']['id']}/", headers=admin)
    assert resp.status_code == 204
    assert sim.connect() == [("RemoveApplication", "Acknowledged")]
    assert sim.managed_apps == {}
    assert statuses(client, admin, device_id) == {store["v1"]["id"]: "removed"}
    [call] = licence_calls(fake, "disassociate")
    assert call["serialNumbers"] == [sim.facts.serial]
    [event_id] = [e for e in fake.events if fake.events[e].kind == "DISASSOCIATE"]
    fake.complete(event_id)
    assert not licensed(runtime, la["id"], sim.facts.serial)
    with runtime.db.session() as s:
        assert s.scalar(select(LicenceRequest.id)) is None
    assert sim.connect() == []


def test_an_iphone_gets_the_ios_options_and_an_assigned_device_installs_at_once(store, enrolled, client, admin,
                                                                                  runtime):
    fake = store["fake"]
    sim, device_id = enrolled("iphone")
    sim.app_checks_before_installed = 0
    sim.connect()
    fake.complete(list(fake.events)[0])
    handled = sim.connect()
    assert handled[:2] == [("InstallApplication", "Acknowledged"), ("ManagedApplicationList", "Acknowledged")]
    [install] = [c.command for c in sim.commands if c.request_type == "InstallApplication"]
    assert install["ChangeManagementState"] == "Managed" and "InstallAsManaged" not in install
    assert install["Attributes"] == {"AssociatedDomains": ["applinks:example.com"], "Removable": True,
                                     "VPNUUID": "3a9d2c6e-0f0b-4a4c-9d0b-5e1f2a3b4c5d"}
    assert statuses(client, admin, device_id) == {store["v1"]["id"]: "installed"}

    # a second device whose serial the location already licenses gets no request, only the app
    other, _ = enrolled("iphone")
    store["loc"].assign(ADAM, "STDQ", other.facts.serial)
    jobs.sync_location(runtime, store["location"]["id"])
    assert ("InstallApplication", "Acknowledged") in other.connect()
    assert len(licence_calls(fake, "associate")) == 1


def test_a_refused_licence_is_retried_then_fails_the_artifact(store, enrolled, client, admin, runtime, monkeypatch):
    fake = store["fake"]
    fake.fail("assets/associate", 400, 9616, "no licences left", count=100)
    monkeypatch.setattr("espalier.services.licences.BACKOFF", timedelta(0))
    sim, device_id = enrolled("mac")
    sim.connect()  # asks (attempt 1)
    for _ in range(4):
        licence_jobs.send_licence_requests(runtime)
    with runtime.db.session() as s:
        row = s.scalar(select(LicenceRequest))
        assert (row.status, row.attempts) == ("failed", 5) and "no licences left" in row.error
    sim.connect()
    [artifact] = client.get(f"/api/mdm/devices/{device_id}/artifacts/", headers=admin).json
    assert artifact["status"] == "failed" and "no licences left" in artifact["error_chain"][0]["LocalizedDescription"]
    assert not any(c.request_type == "InstallApplication" for c in sim.commands)


def test_a_throttled_request_waits_for_its_retry_after(store, enrolled, runtime):
    fake = store["fake"]
    fake.throttle(count=1, retry_after=600)  # beyond what the client waits for itself
    sim, _ = enrolled("mac")
    sim.connect()
    with runtime.db.session() as s:
        row = s.scalar(select(LicenceRequest))
        assert row.status == "queued" and row.attempts == 0
        assert row.next_attempt_at - row.updated_at > timedelta(seconds=500)
    assert licence_jobs.send_licence_requests(runtime)["requests"] == 0  # not due yet
