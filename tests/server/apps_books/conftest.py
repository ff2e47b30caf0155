"""A fake Apps and Books service the runtime is configured to use, delivering its
notifications to the app through the test client."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from fakes.apps_books import FakeAppsBooks


@pytest.fixture
def fake():
    with FakeAppsBooks(assets_page_size=3, assignments_page_size=3) as fake:
        yield fake


@pytest.fixture
def mdm_settings(fake):
    return {"apps_books": {"url": fake.base_url, "ca_file": fake.ca_file}}


@pytest.fixture
def wired(fake, client):
    """Apple's notifications reach the app (the notification URL names our base_url)."""
    fake.deliver = lambda url, headers, body: client.post(urlsplit(url).path, data=body, headers=headers).status_code
    return fake


@pytest.fixture
def upload(client, admin):
    def do(loc, **extra):
        return client.post("/api/mdm/locations/", headers=admin, json={"server_token": loc.stoken, **extra})
    return do
