"""Waking devices through the fake APNs (HTTP/2, TLS, client certificate) and recording outcomes."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from espalier.models import EnrolledDevice, PushCertificate, utcnow
from espalier.services import push_certificates
from espalier.tasks import push

from e2e import apns_settings
from fakes.push_certs import make_push_cert


@pytest.fixture
def mdm_settings(fake_apns):
    return apns_settings(fake_apns)


@pytest.fixture
def cert(runtime, push_ca):
    pc = make_push_cert(push_ca)
    with runtime.db.session() as s, s.begin():
        row = push_certificates.add(s, runtime.secrets, {"name": "Main", "certificate": pc.cert_pem.decode(),
                                                         "private_key": pc.key_pem.decode()})
    return row


@pytest.fixture
def devices(make_device, cert):
    def factory(n=1, **extra):
        return [make_device(push_token=f"{i:02x}" * 32, push_magic=f"magic-{i}", push_certificate_id=cert.id,
                            topic=cert.topic, **extra) for i in range(1, n + 1)]
    return factory


def reload(runtime, device_id):
    with runtime.db.session() as s:
        return s.get(EnrolledDevice, device_id)


def test_push_reaches_apns_with_the_mdm_headers(runtime, fake_apns, devices, cert):
    d, = devices()
    summary = push.push(runtime, [d.id])
    assert summary.sent == [d.id]
    rec = fake_apns.pushes[0]
    assert rec.token_hex == d.push_token and rec.topic == cert.topic
    assert rec.headers["apns-push-type"] == "mdm" and rec.headers["apns-priority"] == "10"
    assert rec.body == b'{"mdm":"magic-1"}'
    assert reload(runtime, d.id).last_notified_at is not None


def test_many_devices_one_job_one_connection(runtime, fake_apns, devices):
    ds = devices(50)
    push.notify_devices(runtime, [d.id for d in ds])
    assert len(fake_apns.pushes) == 50
    assert len({p.connection_id for p in fake_apns.pushes}) == 1


def test_a_device_is_not_pushed_twice_within_seconds_but_later(runtime, fake_apns, devices):
    d, = devices()
    push.push(runtime, [d.id])
    again = push.push(runtime, [d.id])
    assert again.skipped == [d.id] and len(fake_apns.pushes) == 1
    delay, job = runtime.queue.delayed[0]
    assert delay == push.MIN_INTERVAL.total_seconds() and job.args == ([d.id],)
    assert job.func is push.notify_devices_later
    assert push.notify_devices_later(runtime, [d.id]) == {"sent": 0, "skipped": 1, "dead_tokens": 0}
    assert len(runtime.queue.delayed) == 1  # the delayed push does not reschedule itself


def test_unregistered_token_is_dead_until_a_new_token_update(runtime, fake_apns, devices):
    d, = devices()
    fake_apns.fail(d.push_token, 410, "Unregistered", timestamp_ms=1_700_000_000_000)
    summary = push.push(runtime, [d.id])
    assert summary.dead_tokens == [d.id]
    row = reload(runtime, d.id)
    assert row.push_token_error == "Unregistered"
    assert row.push_token_invalid_at.year == 2023  # Apple's timestamp, not ours
    push.push(runtime, [d.id], force=True)
    assert len(fake_apns.pushes) == 1  # not pushed again


@pytest.mark.parametrize("reason", ["BadDeviceToken", "DeviceTokenNotForTopic"])
def test_bad_token_stops_pushes(runtime, fake_apns, devices, reason):
    d, = devices()
    fake_apns.fail(d.push_token, 400, reason)
    assert push.push(runtime, [d.id]).dead_tokens == [d.id]
    assert reload(runtime, d.id).push_token_error == reason


def test_certificate_refused_is_surfaced_and_not_used(runtime, fake_apns, devices, cert, client, admin):
    d, e = devices(2)
    fake_apns.fail(d.push_token, 403, "BadCertificate")
    push.push(runtime, [d.id])
    with runtime.db.session() as s:
        row = s.get(PushCertificate, cert.id)
    assert row.status == "error" and "BadCertificate" in row.status_message
    shown = client.get(f"/api/mdm/push_certificates/{cert.id}/", headers=admin).json
    assert shown["status"] == "error"
    assert push.push(runtime, [e.id]).skipped == [e.id]


def test_transient_errors_are_retried(runtime, fake_apns, devices):
    d, = devices()
    fake_apns.fail(d.push_token, 429, "TooManyRequests", times=1)
    assert push.push(runtime, [d.id]).sent == [d.id]
    e = devices()[0]
    fake_apns.fail(e.push_token, 500, "InternalServerError")
    with pytest.raises(push.PushRetry):
        push.push(runtime, [e.id], force=True)


def test_expired_certificate_is_not_used(runtime, fake_apns, devices, cert):
    d, = devices()
    with runtime.db.session() as s, s.begin():
        s.get(PushCertificate, cert.id).not_after = utcnow() - timedelta(days=1)
    assert push.push(runtime, [d.id]).skipped == [d.id]
    assert fake_apns.pushes == []


def test_lock_through_the_api_pushes_the_device(runtime, client, admin, fake_apns, devices):
    runtime.queue.push_enabled = True
    d, = devices()
    resp = client.post(f"/api/mdm/devices/{d.id}/lock/", headers=admin, json={"pin": "123456"})
    assert resp.status_code == 201
    fake_apns.wait_for_pushes(1)
    assert fake_apns.pushes[0].token_hex == d.push_token


def test_pending_devices_are_renotified_with_backoff(runtime, fake_apns, devices):
    from espalier.mdm.queue import add_command

    old, fresh = devices(2)
    now = utcnow()
    with runtime.db.session() as s, s.begin():
        add_command(s, runtime.secrets, old.id, "DeviceInformation", {})
        add_command(s, runtime.secrets, fresh.id, "DeviceInformation", {})
        s.get(EnrolledDevice, old.id).last_notified_at = now - timedelta(minutes=5)
        s.get(EnrolledDevice, fresh.id).last_notified_at = now - timedelta(seconds=30)
    assert push.renotify_pending(runtime) == {"renotified": 1}
    assert [p.token_hex for p in fake_apns.pushes] == [old.push_token]


def test_backoff_schedule():
    now = utcnow()
    due = push.due_for_renotify
    assert due(now - timedelta(minutes=1), None, now)
    assert not due(now - timedelta(minutes=1), now - timedelta(minutes=1), now)
    assert due(now - timedelta(minutes=10), now - timedelta(minutes=3), now)
    assert not due(now - timedelta(hours=1), now - timedelta(minutes=5), now)
    assert due(now - timedelta(hours=1), now - timedelta(minutes=11), now)
    assert not due(now - timedelta(days=3), now - timedelta(hours=2), now)
    assert due(now - timedelta(days=3), now - timedelta(hours=7), now)


def test_expiry_check_logs(runtime, cert, caplog):
    from espalier.tasks.maintenance import check_push_certificates

    with runtime.db.session() as s, s.begin():
        s.get(PushCertificate, cert.id).not_after = utcnow() + timedelta(days=10)
    with caplog.at_level("WARNING"):
        assert check_push_certificates(runtime) == {"expiring": [cert.topic], "expired": []}
    assert "expires in" in caplog.text and "Renew, not Create" in caplog.text


def test_old_answered_inventory_commands_are_pruned(runtime, make_device):
    from espalier.mdm.queue import add_command
    from espalier.models import DeviceCommand
    from espalier.tasks.maintenance import prune_inventory_commands

    d = make_device()
    with runtime.db.session() as s, s.begin():
        old = add_command(s, runtime.secrets, d.id, "DeviceInformation", {})
        old.status, old.created_at = "Acknowledged", utcnow() - timedelta(days=40)
        pending_old = add_command(s, runtime.secrets, d.id, "SecurityInfo", {})
        pending_old.created_at = utcnow() - timedelta(days=40)
        lock = add_command(s, runtime.secrets, d.id, "DeviceLock", {})
        lock.status, lock.created_at = "Acknowledged", utcnow() - timedelta(days=40)
    assert prune_inventory_commands(runtime) == {"pruned": 1}
    with runtime.db.session() as s:
        assert sorted(c.name for c in s.scalars(select(DeviceCommand))) == ["DeviceLock", "SecurityInfo"]


def test_a_tracked_push_task_retries_transient_failures_and_finishes(runtime, fake_apns, devices, monkeypatch):
    """The old bug: PushRetry failed the operator's task at once; only untracked pushes were retried."""
    from espalier.models import TaskResult

    monkeypatch.setattr(push, "TRACKED_RETRY_DELAYS", (0.01, 0.01))
    runtime.queue.push_enabled = True
    d, e = devices(2)
    fake_apns.fail(d.push_token, 503, "ServiceUnavailable", times=3)  # more than the client's own attempts
    with runtime.db.session() as s, s.begin():
        task = push.notify_tracked(s, runtime.queue, [d.id, e.id])
    with runtime.db.session() as s:
        row = s.get(TaskResult, task.id)
    assert (row.status, row.result) == ("finished", {"sent": 2, "skipped": 0, "dead_tokens": 0})
    assert [p.status for p in fake_apns.pushes if p.token_hex == d.push_token] == [503, 503, 503, 200]


def test_a_tracked_push_task_fails_when_the_retries_do_not_get_through(runtime, fake_apns, devices, monkeypatch):
    from espalier.models import TaskResult

    monkeypatch.setattr(push, "TRACKED_RETRY_DELAYS", (0.01,))
    runtime.queue.push_enabled = True
    d, = devices()
    fake_apns.fail(d.push_token, 500, "InternalServerError")
    with runtime.db.session() as s, s.begin():
        task = push.notify_tracked(s, runtime.queue, [d.id])
    with runtime.db.session() as s:
        row = s.get(TaskResult, task.id)
    assert row.status == "failed" and "1 push(es) to retry" in row.error
    assert len(fake_apns.pushes) == 2 * 3  # two pushes of the job, each with the client's three attempts


def test_devices_whose_inventory_is_due_get_it_queued_and_are_pushed(runtime, devices, client, admin):
    """A device connects only when pushed: the sweep queues its due inventory and wakes it, once."""
    from espalier.models import DeviceCommand
    from espalier.tasks.maintenance import queue_due_inventories

    now = utcnow()
    weekly = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "Weekly", "inventory_interval": 604800})
    due, fresh, never, on_weekly, blocked, unenrolled = devices(6, enrolled_at=now - timedelta(days=30))
    with runtime.db.session() as s, s.begin():
        for device, age in ((due, 2), (fresh, 0.5), (on_weekly, 2), (blocked, 2), (unenrolled, 2)):
            s.get(EnrolledDevice, device.id).last_inventory_at = now - timedelta(days=age)
        s.get(EnrolledDevice, on_weekly.id).blueprint_id = weekly.json["id"]
        s.get(EnrolledDevice, blocked.id).blocked_at = now
        s.get(EnrolledDevice, unenrolled.id).enrolled_at = None
    assert queue_due_inventories(runtime) == {"queued": 2}
    with runtime.db.session() as s:
        queued = s.execute(select(DeviceCommand.enrolled_device_id, DeviceCommand.name)).all()
    assert sorted(queued) == sorted((d.id, name) for d in (due, never) for name in ("DeviceInformation", "SecurityInfo"))
    assert runtime.queue.skipped_pushes[-1] == ([due.id, never.id] if due.id < never.id else [never.id, due.id],)
    assert queue_due_inventories(runtime) == {"queued": 0}  # asked already: not again before the interval
