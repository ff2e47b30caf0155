# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""The contract cases (contract.py) against the fake the module tests use.

tests/server/api/test_collection_contract.py runs the same cases against the real server.
"""

from __future__ import annotations

import pytest

from ansible_collections.espalier.mdm.tests.unit.plugins.contract import CASES, DEVICES
from ansible_collections.espalier.mdm.tests.unit.plugins.fake_api import FakeApi


class FakeContractApi:
    def __init__(self):
        self.fake = FakeApi()

    def device(self, kind):
        return self.fake.add_device(**DEVICES[kind])['id']

    def call(self, method, path, query=None, body=None):
        return self.fake.call(method, path, query, body)

    def vpp_token(self, name, uid):
        return self.fake.add_vpp_token(uid=uid, name=name)


@pytest.mark.parametrize('case', CASES, ids=[c.__name__ for c in CASES])
def test_the_fake_keeps_the_contract(case):
    case(FakeContractApi())


def test_there_are_cases():
    assert len(CASES) >= 10
