"""The fake catalogue, and the settings that point the sync at it."""
from __future__ import annotations

import pytest
from fakes.gdmf import FakeGdmf


@pytest.fixture(scope="module")
def gdmf_server():
    with FakeGdmf() as fake:
        yield fake


@pytest.fixture
def gdmf(gdmf_server):
    """The module's fake, reset to the catalogue for each test."""
    from fakes.gdmf import CATALOGUE

    gdmf_server.feed, gdmf_server.body, gdmf_server.status, gdmf_server.dribble = CATALOGUE, None, 200, 0.0
    return gdmf_server


@pytest.fixture
def mdm_settings(gdmf_server):
    return {"software_updates": {"url": gdmf_server.url, "ca_bundle": gdmf_server.ca_file}}
