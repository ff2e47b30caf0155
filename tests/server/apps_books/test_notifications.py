"""Apple's notifications: authenticated by our auth token, bounded, deduplicated, applied; the
status poll as the fallback for licence events whose notification never came."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from espalier.models import AppsBooksEvent, Asset, DeviceAssignment, LocationAsset, TaskResult, utcnow
from espalier.services import apps_books as svc
from espalier.tasks import apps_books as jobs


@pytest.fixture
def synced(wired, upload, runtime):
    fake = wired
    fake.auto_complete = False
    loc = fake.add_location(assets=[("361309726", "STDQ", 10)])
    loc.assign("361309726", "STDQ", "C02OLD")
    location = upload(loc).json
    jobs.sync_location(runtime, location["id"])
    return fake, loc, location


def counts(runtime, adam_id="361309726"):
    with runtime.db.session() as s:
        la = s.scalar(select(LocationAsset).join(Asset).where(Asset.adam_id == adam_id))
        serials = set(s.scalars(select(DeviceAssignment.serial_number).where(
            DeviceAssignment.location_asset_id == la.id)))
        return la.assigned_count, la.available_count, la.total_count, serials


def post(client, location, body, token, raw=None):
    return client.post(f"/public/mdm/locations/{location['mdm_info_id']}/notify/",
                       data=raw if raw is not None else json.dumps(body),
                       headers={"Authorization": f"Bearer {token}"} if token else {})


def test_an_associate_event_ends_with_its_notification(synced, runtime):
    fake, loc, location = synced
    with runtime.db.session() as s, s.begin():
        event = svc.request_licences(s, runtime, location["id"], "ASSOCIATE",
                                     [{"adamId": "361309726", "pricingParam": "STDQ"}], ["C02NEW1", "C02NEW2"])
        event_id = event.event_id
    fake.complete(event_id)  # Apple applies it and notifies us
    assert fake.notifications[-1][2] == 200
    assert counts(runtime) == (3, 7, 10, {"C02OLD", "C02NEW1", "C02NEW2"})
    with runtime.db.session() as s:
        assert s.scalar(select(AppsBooksEvent.status).where(AppsBooksEvent.event_id == event_id)) == "COMPLETE"


def test_a_retried_notification_is_applied_once(synced, runtime):
    fake, loc, location = synced
    body = {"type": "ASSOCIATE", "result": "SUCCESS", "eventId": "e1",
            "assignments": [{"adamId": "361309726", "pricingParam": "STDQ", "serialNumber": "C02NEW"}]}
    assert fake.notify(loc, "ASSET_MANAGEMENT", body, notification_id="n-1") == 200
    assert fake.notify(loc, "ASSET_MANAGEMENT", body, notification_id="n-1") == 200
    assert counts(runtime)[:2] == (2, 8)
    disassociate = {**body, "type": "DISASSOCIATE", "assignments": [
        {"adamId": "361309726", "pricingParam": "STDQ", "serialNumber": "C02OLD"}]}
    assert fake.notify(loc, "ASSET_MANAGEMENT", disassociate, notification_id="n-2") == 200
    assert counts(runtime) == (1, 9, 10, {"C02NEW"})


def test_asset_count_moves_the_totals_or_queues_a_sync(synced, runtime):
    fake, loc, location = synced
    assert fake.notify(loc, "ASSET_COUNT", {"adamId": "361309726", "pricingParam": "STDQ", "countDelta": 5}) == 200
    assert counts(runtime)[:3] == (1, 14, 15)
    loc.add_asset("999", "STDQ", 4)
    with runtime.db.session() as s:
        before = s.scalar(select(func.count()).select_from(TaskResult))
    assert fake.notify(loc, "ASSET_COUNT", {"adamId": "999", "pricingParam": "STDQ", "countDelta": 4}) == 200
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(TaskResult)) == before + 1
    assert counts(runtime, "999")[2] == 4  # the sync ran (inline queue)


def test_authentication(synced, client, runtime):
    fake, loc, location = synced
    body = {"notificationId": "x", "notificationType": "ASSET_COUNT", "notification": {}}
    assert post(client, location, body, None).status_code == 401
    assert post(client, location, body, "wrong").status_code == 403
    assert post(client, location, body, loc.notification_auth_token + "x").status_code == 403
    other = {**location, "mdm_info_id": str(uuid.uuid4())}
    assert post(client, other, body, loc.notification_auth_token).status_code == 403
    assert post(client, {**location, "mdm_info_id": "not-a-uuid"}, body, loc.notification_auth_token).status_code == 404
    resp = client.post(f"/public/mdm/locations/{location['mdm_info_id']}/notify/", data=json.dumps(body),
                       headers={"Authorization": f"Token {loc.notification_auth_token}"})
    assert resp.status_code == 401
    assert client.get(f"/public/mdm/locations/{location['mdm_info_id']}/notify/").status_code == 405


def test_another_locations_token_is_refused(synced, upload, client):
    fake, loc, location = synced
    other = fake.add_location(name="Other")
    upload(other)
    body = {"notificationId": "x", "notificationType": "ASSET_COUNT", "notification": {}}
    assert post(client, location, body, other.notification_auth_token).status_code == 403


@pytest.mark.parametrize("raw", [
    b"not json", b"[]", b'{"notificationType": "ASSET_COUNT"}', b'{"notificationId": 1, "notificationType": "X"}',
    b'{"notificationId": "a", "notificationType": "ASSET_COUNT", "notification": []}',
    b'{"notificationId": "b", "notificationType": "ASSET_COUNT", "notification": {"adamId": "1", '
    b'"pricingParam": "STDQ", "countDelta": "5"}}',
    b'{"notificationId": "c", "notificationType": "ASSET_MANAGEMENT", "notification": {"type": "ASSOCIATE", '
    b'"result": "SUCCESS", "assignments": {"a": 1}}}',
    b'{"notificationId": "d", "notificationType": "ASSET_COUNT", "uId": "someone else", "notification": {}}',
    b"\xff\xfe", b'{"a": ' * 100000,
])
def test_junk_is_4xx(synced, client, raw):
    fake, loc, location = synced
    resp = post(client, location, None, loc.notification_auth_token, raw=raw)
    assert resp.status_code == 400, (raw[:80], resp.status_code, resp.data)


def test_a_body_too_large_is_413(synced, client):
    fake, loc, location = synced
    raw = json.dumps({"notificationId": "big", "notificationType": "X", "pad": "x" * (1024 * 1024)})
    assert post(client, location, None, loc.notification_auth_token, raw=raw).status_code == 413


def test_unknown_types_and_junk_assignments_are_accepted_and_ignored(synced, runtime):
    fake, loc, location = synced
    assert fake.notify(loc, "USER_MANAGEMENT", {"anything": 1}) == 200
    junk = {"type": "ASSOCIATE", "result": "SUCCESS", "assignments": [
        None, 1, {"adamId": "361309726", "pricingParam": "STDQ", "clientUserId": "u"},
        {"adamId": "361309726", "pricingParam": "STDQ", "serialNumber": "x" * 200}]}
    assert fake.notify(loc, "ASSET_MANAGEMENT", junk) == 200
    assert counts(runtime)[0] == 1


def test_status_polling_ends_events_without_a_notification(synced, runtime):
    fake, loc, location = synced
    with runtime.db.session() as s, s.begin():
        event_id = svc.request_licences(s, runtime, location["id"], "ASSOCIATE",
                                        [{"adamId": "361309726", "pricingParam": "STDQ"}], ["C02LOST"]).event_id
    assert jobs.poll_events(runtime) == {"complete": 0, "failed": 0, "pending": 0}  # too recent to poll
    with runtime.db.session() as s, s.begin():
        s.execute(update(AppsBooksEvent).values(updated_at=utcnow() - timedelta(minutes=5)))
    assert jobs.poll_events(runtime) == {"complete": 0, "failed": 0, "pending": 1}  # Apple: still PENDING
    fake.complete(event_id, notify=False)  # the notification is lost
    with runtime.db.session() as s, s.begin():
        s.execute(update(AppsBooksEvent).values(updated_at=utcnow() - timedelta(minutes=5)))
    assert jobs.poll_events(runtime) == {"complete": 1, "failed": 0, "pending": 0}
    assert "C02LOST" in counts(runtime)[3]  # the sync it queued found the new assignment


def test_the_same_notification_at_once_is_recorded_once(synced, runtime):
    """Two requests with one notificationId in flight together: the second waits on the unique
    index, then sees the first's row and does not apply it again."""
    import threading

    from espalier.models import AppsBooksNotification, Location

    fake, loc, location = synced
    inserted, release, results = threading.Event(), threading.Event(), {}

    def first():
        with runtime.db.session() as s, s.begin():
            results["first"] = svc.first_time(s, s.get(Location, location["id"]), "same", "ASSET_COUNT")
            inserted.set()
            release.wait(10)

    def second():
        inserted.wait(10)
        with runtime.db.session() as s, s.begin():
            results["second"] = svc.first_time(s, s.get(Location, location["id"]), "same", "ASSET_COUNT")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    inserted.wait(10)
    threading.Timer(0.5, release.set).start()  # the second is blocked on the index by then
    for t in threads:
        t.join(15)
    assert results == {"first": True, "second": False}
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(AppsBooksNotification).where(
            AppsBooksNotification.notification_id == "same")) == 1
