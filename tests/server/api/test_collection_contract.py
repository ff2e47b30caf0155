"""The Ansible collection's API contract (tests/unit/plugins/contract.py) against the real server.

The collection's unit tests run the same cases against their in-memory fake, so a change of
an answer the modules rely on fails here until the fake (and the modules) follow it.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "collection_contract", Path(__file__).resolve().parents[2] / "unit" / "plugins" / "contract.py")
contract = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(contract)

# The contract's device fields by the column they set.
COLUMNS = {"reported_pin_required_for_erase": "pin_required_for_erase",
           "reported_pin_required_for_lock": "pin_required_for_lock"}


@pytest.fixture
def apple():
    from fakes.apps_books import FakeAppsBooks

    with FakeAppsBooks() as fake:
        yield fake


@pytest.fixture
def mdm_settings(apple):
    return {"apps_books": {"url": apple.base_url, "ca_file": apple.ca_file}}


class ServerContractApi:
    def __init__(self, client, headers, make_device, apple):
        self.client, self.headers, self.make_device, self.apple = client, headers, make_device, apple

    def vpp_token(self, name, uid):
        return self.apple.add_location(name=name, uid=uid).stoken

    def device(self, kind):
        fields = {COLUMNS.get(k, k): v for k, v in contract.DEVICES[kind].items()}
        return self.make_device(**fields).id

    def call(self, method, path, query=None, body=None):
        resp = self.client.open(path, method=method, query_string=query, json=body, headers=self.headers)
        return resp.status_code, resp.get_json(silent=True)


@pytest.mark.parametrize("case", contract.CASES, ids=[c.__name__ for c in contract.CASES])
def test_the_server_keeps_the_collection_contract(case, client, admin, make_device, apple):
    case(ServerContractApi(client, admin, make_device, apple))
