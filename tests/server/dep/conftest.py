"""A fake ABM the runtime's settings point at, and a virtual server whose token it issued."""
from __future__ import annotations

import pytest
from fakes.abm import FakeABM

from espalier.apple.abm import client_for
from espalier.services import dep_tokens


@pytest.fixture
def fake():
    with FakeABM(devices=25) as f:
        yield f


@pytest.fixture
def mdm_settings(fake):
    return {"abm": {"base_url": fake.base_url, "ca_file": fake.ca_file}}


@pytest.fixture
def make_client(runtime):
    return lambda creds: client_for(runtime.settings.mdm["abm"], creds)


@pytest.fixture
def server_id(runtime, fake, make_client):
    """A virtual server set up the operator's way: token request, p7m from the fake, upload."""
    with runtime.db.session() as s, s.begin():
        token = dep_tokens.request_token(s, runtime.secrets)
        certificate, token_id = token.certificate, token.id
    p7m = fake.server_token_p7m(certificate)
    with runtime.db.session() as s, s.begin():
        return dep_tokens.upload_token(s, runtime.secrets, token_id, p7m, make_client).id
