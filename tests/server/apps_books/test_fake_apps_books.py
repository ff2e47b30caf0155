"""The fake Apps and Books service through Espalier's client: each behaviour the sync relies on."""
from __future__ import annotations

import time

import pytest

from espalier.apple.apps_books import (AppsBooksClient, AppsBooksError, ClientSettings, InvalidToken, Throttled,
                                       VersionChanged)
from fakes.apps_books import FakeAppsBooks


@pytest.fixture
def fake():
    with FakeAppsBooks(assets_page_size=2, assignments_page_size=2) as fake:
        yield fake


def client(fake, token, **kw):
    return AppsBooksClient(token, ClientSettings(base_url=fake.base_url, verify=fake.ca_file, **kw))


def test_bearer_token_and_client_config(fake):
    loc = fake.add_location(name="Paris", country="FR")
    with client(fake, loc.stoken) as c:
        cfg = c.client_config()
    assert cfg["uId"] == loc.uid and cfg["locationName"] == "Paris" and cfg["countryISO2ACode"] == "FR"
    assert "mdmInfo" not in cfg
    assert fake.requests[-1].authorization == f"Bearer {loc.stoken}"


def test_unknown_token_is_401_9622(fake):
    fake.add_location()
    with client(fake, "not-a-token") as c, pytest.raises(InvalidToken) as exc:
        c.client_config()
    assert exc.value.status == 401 and exc.value.error_number == 9622


def test_a_new_download_revokes_the_old_token(fake):
    loc = fake.add_location()
    old = loc.stoken
    fake.new_token(loc)
    with client(fake, old) as c, pytest.raises(InvalidToken):
        c.client_config()


def test_claim_and_foreign_claim(fake):
    loc = fake.add_location()
    with client(fake, loc.stoken) as c:
        cfg = c.claim({"id": "ours", "name": "Espalier", "metadata": "x"}, "https://mdm/notify", "nat")
        assert cfg["mdmInfo"]["id"] == "ours" and loc.notification_auth_token == "nat"
        fake.claim_elsewhere(loc)
        assert c.client_config()["mdmInfo"]["id"] != "ours"


def test_pages_and_version_restart(fake):
    loc = fake.add_location(assets=[(str(n), "STDQ", 3) for n in range(5)])
    with client(fake, loc.stoken) as c:
        pages = list(c.iter_pages("assets", "assets"))
        assert [len(p) for p in pages] == [2, 2, 1]
        assert {a["adamId"] for p in pages for a in p} == {str(n) for n in range(5)}
        fake.on_page("assets", 1, loc.bump_version)
        with pytest.raises(VersionChanged):
            list(c.iter_pages("assets", "assets"))
        assert len(list(c.iter_pages("assets", "assets"))) == 3  # the next read is consistent again


def test_assignments_pages(fake):
    loc = fake.add_location(assets=[("1", "STDQ", 10)])
    for n in range(3):
        loc.assign("1", "STDQ", f"SERIAL{n}")
    with client(fake, loc.stoken) as c:
        items = [a for p in c.iter_pages("assignments", "assignments") for a in p]
        asset = c.request("GET", "assets", params={"adamId": "1"})["assets"][0]
    assert [a["serialNumber"] for a in items] == ["SERIAL0", "SERIAL1", "SERIAL2"]
    assert asset["assignedCount"] == 3 and asset["availableCount"] == 7


def test_throttling_waits_for_retry_after(fake):
    loc = fake.add_location()
    fake.throttle(1, retry_after=0.2)
    with client(fake, loc.stoken) as c:
        start = time.monotonic()
        c.client_config()
        assert time.monotonic() - start >= 0.2
        fake.throttle(1, retry_after=60)
        with pytest.raises(Throttled):
            client(fake, loc.stoken, max_wait=1).client_config()


def test_error_shape(fake):
    loc = fake.add_location()
    fake.fail("service/config", 500, 9610, "internal")
    with client(fake, loc.stoken) as c:
        with pytest.raises(AppsBooksError) as exc:
            c.service_config()
        assert exc.value.error_number == 9610 and not isinstance(exc.value, InvalidToken)
        assert c.service_config()["limits"]["maxAssets"] == 25


def test_associate_is_asynchronous_and_notifies(fake):
    fake.auto_complete = False
    loc = fake.add_location(assets=[("1", "STDQ", 10)])
    delivered = []
    fake.deliver = lambda url, headers, body: delivered.append((url, headers, body)) or 200
    with client(fake, loc.stoken) as c:
        c.claim({"id": "ours"}, "https://mdm/notify", "nat")
        event_id = c.associate([{"adamId": "1", "pricingParam": "STDQ"}], ["SERIAL9"])["eventId"]
        assert c.event_status(event_id)["eventStatus"] == "PENDING"
        fake.complete(event_id)
        assert c.event_status(event_id)["eventStatus"] == "COMPLETE"
    assert ("1", "STDQ", "SERIAL9") in loc.assignments
    url, headers, body = delivered[0]
    assert url == "https://mdm/notify" and headers["Authorization"] == "Bearer nat"
    assert b'"ASSET_MANAGEMENT"' in body and event_id.encode() in body


def test_9622_in_any_status_is_an_invalid_token(fake):
    loc = fake.add_location()
    fake.fail("assets", 400, 9622, "Invalid authentication token")
    with client(fake, loc.stoken) as c, pytest.raises(InvalidToken):
        list(c.iter_pages("assets", "assets"))
