"""Asset sync: pages, versionId restarts, counts, assignments, errors, one sync per location at a time."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from espalier.models import Asset, DeviceAssignment, Location, LocationAsset, TaskResult, utcnow
from espalier.tasks import apps_books as jobs


def location_with_assets(fake, upload):
    loc = fake.add_location(assets=[("361309726", "STDQ", 10), ("361309726", "PLUS", 5), ("284882215", "STDQ", 3),
                                    ("1000000001", "STDQ", 1)])
    loc.assets[("1000000001", "STDQ")]["productType"] = "Book"
    for n in range(4):
        loc.assign("361309726", "STDQ", f"C02SERIAL{n}")
    loc.assign("284882215", "STDQ", "C02SERIAL0")
    return loc, upload(loc).json["id"]


def sync(client, admin, location_id):
    resp = client.post(f"/api/mdm/locations/{location_id}/sync/", headers=admin)
    assert resp.status_code == 201, resp.json
    assert set(resp.json) == {"task_id", "task_result_url"}
    assert resp.json["task_result_url"] == f"/api/task_result/{resp.json['task_id']}/"
    return client.get(resp.json["task_result_url"], headers=admin).json


def test_sync_stores_assets_counts_and_assignments(fake, upload, client, admin, runtime):
    loc, location_id = location_with_assets(fake, upload)
    task = sync(client, admin, location_id)
    assert task["status"] == "SUCCESS", task
    result = task["result"]
    assert (result["assets"], result["assets_created"], result["assignments"], result["assignments_created"]) == (
        4, 4, 5, 5)
    assert result["restarts"] == 0 and result["pages"] == 4 and result["duration_seconds"] >= 0
    with runtime.db.session() as s:
        book = s.scalar(select(Asset).where(Asset.adam_id == "1000000001"))
        assert book.product_type == "Book" and book.supported_platforms == ["iOS", "macOS"]
        la = s.scalar(select(LocationAsset).join(Asset).where(Asset.adam_id == "361309726",
                                                               Asset.pricing_param == "STDQ"))
        assert (la.assigned_count, la.available_count, la.total_count, la.retired_count) == (4, 6, 10, 0)
        serials = set(s.scalars(select(DeviceAssignment.serial_number).where(
            DeviceAssignment.location_asset_id == la.id)))
        assert serials == {f"C02SERIAL{n}" for n in range(4)}
        assert s.get(Location, location_id).last_sync_at is not None and s.get(Location, location_id).sync_lock is None

    # Apple moves: one licence revoked, one added, a purchase; the next sync follows
    del loc.assignments[("361309726", "STDQ", "C02SERIAL3")]
    loc.assign("361309726", "STDQ", "C02SERIAL9")
    loc.assets[("284882215", "STDQ")]["totalCount"] = 30
    result = sync(client, admin, location_id)["result"]
    assert (result["assets_created"], result["assignments_created"], result["assignments_deleted"]) == (0, 1, 1)
    assert result["location_assets_updated"] == 1
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(DeviceAssignment)) == 5
        assert s.scalar(select(DeviceAssignment.id).where(DeviceAssignment.serial_number == "C02SERIAL3")) is None


def test_sync_needs_change_location(fake, upload, client, make_token):
    _, location_id = location_with_assets(fake, upload)
    assert client.post(f"/api/mdm/locations/{location_id}/sync/",
                       headers=make_token("mdm.view_location")).status_code == 403
    assert client.post("/api/mdm/locations/999999/sync/", headers=make_token("mdm.change_location")).status_code == 404


def test_a_write_mid_read_restarts_the_listing(fake, upload, client, admin, runtime):
    loc, location_id = location_with_assets(fake, upload)
    fake.on_page("assets", 1, lambda: loc.add_asset("555", "STDQ", 2))  # a purchase between two pages
    result = sync(client, admin, location_id)["result"]
    assert result["restarts"] == 1 and result["assets"] == 5
    with runtime.db.session() as s:
        assert s.scalar(select(Asset.id).where(Asset.adam_id == "555")) is not None


def test_a_listing_that_never_settles_fails_and_stores_nothing(fake, upload, client, admin, runtime, monkeypatch):
    loc, location_id = location_with_assets(fake, upload)
    monkeypatch.setattr(jobs, "MAX_RESTARTS", 1)
    for _ in range(3):
        fake.on_page("assets", 1, loc.bump_version)
    task = sync(client, admin, location_id)
    assert task["status"] == "FAILURE" and "kept changing" in task["error"]
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Asset)) == 0
        assert s.get(Location, location_id).sync_lock is None  # released


def test_throttling_is_waited_out(fake, upload, client, admin):
    _, location_id = location_with_assets(fake, upload)
    fake.throttle(2, retry_after=0.1)
    task = sync(client, admin, location_id)
    assert task["status"] == "SUCCESS" and task["result"]["assets"] == 4


def test_a_revoked_token_fails_the_task(fake, upload, client, admin):
    loc, location_id = location_with_assets(fake, upload)
    fake.new_token(loc)  # downloaded again elsewhere: ours no longer works
    task = sync(client, admin, location_id)
    assert task["status"] == "FAILURE" and "9622" in task["error"]


def test_two_syncs_of_one_location_never_overlap(fake, upload, runtime):
    loc, location_id = location_with_assets(fake, upload)
    inner = []
    fake.on_page("assets", 1, lambda: inner.append(jobs.sync_location(runtime, location_id)))
    outer = jobs.sync_location(runtime, location_id)
    assert inner == [{"location": location_id, "skipped": "another sync of this location is running"}]
    assert outer["assets"] == 4
    # a claim left by a killed worker is taken over once stale
    token = jobs.acquire(runtime, location_id)
    assert token and jobs.acquire(runtime, location_id) is None
    with runtime.db.session() as s, s.begin():
        s.get(Location, location_id).sync_locked_at = utcnow() - jobs.LOCK_STALE - timedelta(minutes=1)
    assert jobs.acquire(runtime, location_id) not in (None, token)


def test_the_lock_works_on_sqlite(tmp_path, settings_factory):
    from espalier.runtime import build

    rt = build(settings_factory(f"sqlite:///{tmp_path}/l.db"))
    try:
        rt.db.upgrade(secret_keys=rt.settings["secret_keys"])
        with rt.db.session() as s, s.begin():
            s.add(Location(server_token_hash="h", server_token_expiration_date=utcnow(), organization_name="o",
                           name="n", country_code="FR", library_uid="u", platform="p", website_url="w",
                           mdm_info_id="00000000-0000-4000-8000-000000000000"))
        first = jobs.acquire(rt, 1)
        assert first and jobs.acquire(rt, 1) is None
        jobs.release(rt, 1, first)
        assert jobs.acquire(rt, 1)
    finally:
        rt.close()


def test_the_beat_syncs_every_location(fake, upload, runtime):
    from espalier.tasks.periodic import Beat

    names = {entry.name: entry.seconds for entry in Beat(runtime).schedule}
    assert names["sync-all-locations"] == 86400 and names["poll-events"] == 300
    _, location_id = location_with_assets(fake, upload)
    out = jobs.sync_all_locations(runtime)
    assert out["queued"] == 1
    with runtime.db.session() as s:
        task = s.get(TaskResult, out["tasks"][0])
        assert task.status == "finished" and task.result["assets"] == 4 and task.args == [location_id]
