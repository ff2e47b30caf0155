"""The ADE client against the fake ABM: OAuth session, rotation, throttling, cursors, limits."""
from __future__ import annotations

import pytest
from fakes.abm import FakeABM, make_device

from espalier.apple.abm import ABMClient, ABMError, OAuthCredentials


@pytest.fixture
def fake():
    with FakeABM(devices=25) as f:
        yield f


def client_for(fake: FakeABM, creds=None, **kwargs) -> ABMClient:
    creds = creds or fake.issue_credentials()
    sleeps = []
    client = ABMClient(OAuthCredentials(creds.consumer_key, creds.consumer_secret, creds.access_token,
                                        creds.access_secret),
                       base_url=fake.base_url, verify=fake.ca_file, sleep=sleeps.append, **kwargs)
    client.sleeps = sleeps
    return client


def test_session_is_opened_with_a_verified_oauth_signature(fake):
    with client_for(fake) as client:
        account = client.account()
    assert account["server_uuid"] == fake.account["server_uuid"]
    assert fake.session_calls == 1
    method, path, _ = fake.calls("/session")[0]
    assert method == "GET"


def test_wrong_secret_is_refused_by_the_signature_check(fake):
    creds = fake.issue_credentials()
    creds_bad = type(creds)(**{**creds.as_dict(), "consumer_secret": "nope"})
    with client_for(fake, creds_bad) as client, pytest.raises(ABMError) as err:
        client.account()
    assert (err.value.status, err.value.code) == (401, "signature_invalid")
    assert fake.sessions == set()


def test_expired_session_is_renewed_once(fake):
    with client_for(fake) as client:
        client.account()
        fake.expire_sessions()
        client.account()
        assert fake.session_calls == 2
        client.session_token = "S_never_issued"  # 403 FORBIDDEN: renewed too
        client.account()
        assert fake.session_calls == 3


def test_rotated_session_header_is_adopted():
    with FakeABM(devices=5, rotate_every=2) as fake, client_for(fake) as client:
        for _ in range(6):
            client.account()
        # each rotation is a session the fake issued itself: the client never had to re-authenticate
        assert fake.calls("/session").__len__() == 1
        assert fake.session_calls > 1
        assert client.session_token in fake.sessions


def test_throttling_honours_retry_after_bounded(fake):
    with client_for(fake, max_retry_after=5) as client:
        client.account()
        fake.throttle(times=2, status=429, retry_after=3)
        fake.throttle(times=1, status=503, retry_after=600)
        client.account()
        assert client.sleeps == [3, 3, 5]  # the 600 s is capped
        fake.throttle(times=10, status=503, retry_after=1)
        with pytest.raises(ABMError) as err:
            client.account()
        assert err.value.status == 503
        assert len(client.sleeps) == 3 + client.max_retries


def test_full_fetch_then_sync_and_cursor_errors(fake):
    with client_for(fake) as client:
        client.account()
        page = client.fetch_devices(limit=10)
        serials = [d["serial_number"] for d in page.devices]
        while page.more_to_follow:
            page = client.fetch_devices(page.cursor, limit=10)
            serials += [d["serial_number"] for d in page.devices]
        assert len(serials) == 25 and len(set(serials)) == 25
        with pytest.raises(ABMError) as err:
            client.fetch_devices(page.cursor)
        assert err.value.is_cursor_error and err.value.code == "EXHAUSTED_CURSOR"
        fake.add(make_device(0, "NEW00000001"))
        fake.modify("FAKE00000003", color="SILVER")
        fake.delete("FAKE00000004")
        delta = client.sync_devices(page.cursor)
        assert [(d["serial_number"], d["op_type"]) for d in delta.devices] == [
            ("NEW00000001", "added"), ("FAKE00000003", "modified"), ("FAKE00000004", "deleted")]
        assert all(d["op_date"] for d in delta.devices) and not delta.more_to_follow
        with pytest.raises(ABMError) as err:
            client.sync_devices("garbage")
        assert err.value.code == "INVALID_CURSOR"
        fake.expire_cursors()
        with pytest.raises(ABMError) as err:
            client.sync_devices(delta.cursor)
        assert err.value.code == "EXPIRED_CURSOR"


def test_echoed_cursor_is_returned_as_apple_does(fake):
    with client_for(fake) as client:
        page = client.fetch_devices(limit=10)
        fake.echo_cursor()
        echoed = client.fetch_devices(page.cursor, limit=10)
        assert echoed.cursor == page.cursor and echoed.more_to_follow and echoed.devices == []


def test_page_size_follows_the_account_limit():
    with FakeABM(devices=30, fetch_limit={"default": 100, "maximum": 7}) as fake, client_for(fake) as client:
        client.account()
        client.fetch_devices(limit=1000)
        assert fake.calls("/server/devices")[-1][2]["limit"] == 7
        assert client.page_size("/devices/sync", 5000) == 1000


def test_headers_sent(fake):
    seen = {}
    original = fake.handle

    def spy(method, path, headers, body):
        seen.update(headers)
        return original(method, path, headers, body)

    fake.handle = spy
    with client_for(fake) as client:
        client.fetch_devices(limit=5)
    assert seen["X-Server-Protocol-Version"] == "7"
    assert seen["User-Agent"].startswith("espalier")
    assert seen["Content-Type"] == "application/json;charset=UTF8"


def test_profiles_assign_and_disown(fake):
    with client_for(fake) as client:
        defined = client.define_profile({"profile_name": "p", "devices": ["FAKE00000001"]})
        assert defined["devices"] == {"FAKE00000001": "SUCCESS"}
        fake.throttle_devices("FAKE00000002")
        out = client.assign_profile(defined["profile_uuid"], ["FAKE00000002", "FAKE00000003", "NOPE"])
        assert out["devices"] == {"FAKE00000002": "THROTTLED", "FAKE00000003": "SUCCESS", "NOPE": "NOT_ACCESSIBLE"}
        assert out["retry_after_seconds"] == 60
        with pytest.raises(ValueError):
            client.assign_profile(defined["profile_uuid"], [f"S{i}" for i in range(1001)])
        assert client.disown_devices(["FAKE00000005"]) == {"FAKE00000005": "SUCCESS"}
        assert "FAKE00000005" not in fake.devices
