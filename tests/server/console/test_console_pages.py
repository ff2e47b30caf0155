"""The console through Flask's test client: login, CSRF, the same permissions as the API, pages."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from espalier.models import DeviceCommand, EnrolledDevice, PushCertificate, utcnow
from espalier.services import auth


def _csrf(resp) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', resp.get_data(as_text=True)).group(1)


@pytest.fixture
def users(runtime):
    with runtime.db.session() as s, s.begin():
        for name, role in (("alice", "admin"), ("vera", "viewer")):
            auth.create_user(s, name)
            auth.set_password(s, name, f"{name}-password", roles=[role])


def login(client, username, password=None, *, token=None):
    page = client.get("/console/login")
    form = {"csrf_token": _csrf(page)}
    form.update({"token": token} if token else {"username": username, "password": password})
    return client.post("/console/login", data=form)


def _post(client, path, **form):
    page = client.get("/console/")
    return client.post(path, data={"csrf_token": _csrf(page), **form})


def test_pages_need_a_login(client):
    resp = client.get("/console/")
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]


def test_password_login_and_its_cookie(client, users, runtime):
    assert login(client, "alice", "wrong-password").status_code == 401
    assert login(client, "nobody", "whatever-pw").status_code == 401
    resp = login(client, "alice", "alice-password")
    assert resp.status_code == 302
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" in cookie  # the test base URL is https
    assert client.get("/console/").status_code == 200
    with runtime.db.session() as s:
        from sqlalchemy import select

        from espalier.models import User
        stored = s.scalar(select(User.password_hash).where(User.username == "alice"))
    assert stored.startswith("$argon2id$") and "alice-password" not in stored


def test_token_login(client, make_token):
    key = make_token(role="viewer")["Authorization"].split()[1]
    assert login(client, None, token="0" * 40).status_code == 401
    assert login(client, None, token=key).status_code == 302
    assert client.get("/console/devices/").status_code == 200


def test_every_form_needs_the_csrf_token(client, users, make_device):
    d = make_device()
    login(client, "alice", "alice-password")
    resp = client.post(f"/console/devices/{d.id}/block", data={"confirmed": "yes"})
    assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)
    assert client.post("/console/login", data={"username": "alice", "password": "alice-password"}).status_code == 400


def test_block_asks_for_confirmation_then_blocks(client, users, make_device, runtime):
    d = make_device()
    login(client, "alice", "alice-password")
    ask = _post(client, f"/console/devices/{d.id}/block")
    assert ask.status_code == 200 and "Yes, block" in ask.get_data(as_text=True)
    with runtime.db.session() as s:
        assert s.get(EnrolledDevice, d.id).blocked_at is None
    done = _post(client, f"/console/devices/{d.id}/block", confirmed="yes")
    assert done.status_code == 302
    with runtime.db.session() as s:
        assert s.get(EnrolledDevice, d.id).blocked_at is not None
    assert "Unblock" in client.get(f"/console/devices/{d.id}/").get_data(as_text=True)


def test_lock_checks_the_pin_as_the_api_does(client, users, make_device, runtime):
    d = make_device(platform="macOS")
    login(client, "alice", "alice-password")
    _post(client, f"/console/devices/{d.id}/lock", confirmed="yes", pin="12")
    page = client.get(f"/console/devices/{d.id}/").get_data(as_text=True)
    assert "pin" in page.lower() and "DeviceLock" not in page.split("Command queue")[1]
    _post(client, f"/console/devices/{d.id}/lock", confirmed="yes", pin="123456", message="lost")
    with runtime.db.session() as s:
        from sqlalchemy import select
        assert s.scalars(select(DeviceCommand.name).where(DeviceCommand.enrolled_device_id == d.id)).all() == \
            ["DeviceLock"]


def test_console_actions_are_audit_events_of_the_logged_in_user(client, users, make_device, runtime):
    from sqlalchemy import select

    from espalier.models import AuditEvent

    d = make_device(platform="macOS")
    login(client, "alice", "alice-password")
    _post(client, f"/console/devices/{d.id}/lock", confirmed="yes", pin="123456")
    _post(client, f"/console/devices/{d.id}/block", confirmed="yes")
    _post(client, f"/console/devices/{d.id}/unblock", confirmed="yes")
    with runtime.db.session() as s:
        events = [(e.action, e.object_id, e.username, e.token_id is not None, e.details)
                  for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        uuid = s.scalar(select(DeviceCommand.uuid).where(DeviceCommand.enrolled_device_id == d.id))
    device = {"serial_number": d.serial_number, "udid": d.udid}
    assert events == [("command_queued", str(d.id), "alice", True, {**device, "request_type": "DeviceLock",
                                                                    "command_uuid": uuid}),
                      ("device_blocked", str(d.id), "alice", True, device),
                      ("device_unblocked", str(d.id), "alice", True, device)]


def test_a_viewer_sees_but_cannot_act_nor_read_secrets(client, users, make_device, runtime):
    d = make_device()
    with runtime.db.session() as s, s.begin():
        runtime.secrets.seal(s.get(EnrolledDevice, d.id), "filevault_prk", b"PRK-SECRET-VALUE")
    login(client, "vera", "vera-password")
    page = client.get(f"/console/devices/{d.id}/").get_data(as_text=True)
    assert "Block" not in page and "(needs mdm.view_filevault_prk)" in page and "PRK-SECRET-VALUE" not in page
    assert _post(client, f"/console/devices/{d.id}/block", confirmed="yes").status_code == 403
    assert _post(client, f"/console/devices/{d.id}/secret/filevault_prk").status_code == 403
    with runtime.db.session() as s:
        assert s.get(EnrolledDevice, d.id).blocked_at is None
    client.post("/console/logout", data={"csrf_token": _csrf(client.get("/console/"))})
    login(client, "alice", "alice-password")
    shown = _post(client, f"/console/devices/{d.id}/secret/filevault_prk")
    assert shown.status_code == 200 and "PRK-SECRET-VALUE" in shown.get_data(as_text=True)


def test_overview_counts_and_charts(client, users, make_device, runtime):
    make_device(platform="macOS", os_version="14.2.1", filevault_enabled=True, last_seen_at=utcnow())
    make_device(platform="iOS", os_version="17.1", supervised=True, blocked_at=utcnow())
    login(client, "alice", "alice-password")
    page = client.get("/console/").get_data(as_text=True)
    assert page.count("<svg") == 3 and "macOS 14.2.1" in page and "iOS 17.1" in page
    assert re.search(r'id="total">2<', page) and re.search(r'id="blocked" class="danger">1<', page)


def test_search_and_keyset_pages(client, users, make_device):
    ds = [make_device() for _ in range(55)]
    login(client, "alice", "alice-password")
    first = client.get("/console/devices/").get_data(as_text=True)
    assert ds[0].serial_number in first and ds[50].serial_number not in first
    after = re.search(r'after=(\d+)', first).group(1)
    second = client.get(f"/console/devices/?after={after}").get_data(as_text=True)
    assert ds[50].serial_number in second and ds[0].serial_number not in second and "next page" not in second
    found = client.get(f"/console/devices/?q={ds[7].serial_number}").get_data(as_text=True)
    assert ds[7].serial_number in found and ds[8].serial_number not in found
    assert ds[3].udid in client.get(f"/console/devices/?q={ds[3].udid}").get_data(as_text=True) or \
        ds[3].serial_number in client.get(f"/console/devices/?q={ds[3].udid}").get_data(as_text=True)
    assert client.get("/console/devices/?after=x%00&q=%27").status_code in (200, 400)


def test_push_certificates_show_days_left_red_when_close(client, users, runtime, push_pair):
    from espalier.services import push_certificates
    with runtime.db.session() as s, s.begin():
        pc = push_certificates.add(s, runtime.secrets, {"name": "Main", "certificate": push_pair.cert_pem.decode(),
                                                        "private_key": push_pair.key_pem.decode()})
        s.get(PushCertificate, pc.id).not_after = utcnow() + timedelta(days=12, hours=1)
    login(client, "alice", "alice-password")
    page = client.get("/console/push_certificates/").get_data(as_text=True)
    assert 'class="expiring">12<' in page
    assert client.get("/console/tasks/").status_code == 200
