# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import contextlib
import json
import types

import pytest

try:  # ansible-core >= 2.19
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # older: the recipe of the unit testing guide of those releases
    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args):
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved

from ansible_collections.espalier.mdm.plugins.module_utils import api
from ansible_collections.espalier.mdm.tests.unit.plugins.fake_api import BASE_URL, OMIT, TOKEN, FakeApi, FakeClock


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake_api(monkeypatch, clock):
    """The API the client talks to: every HTTP request of the client goes to this fake."""
    fake = FakeApi()
    monkeypatch.setattr(api, 'UrllibTransport', lambda *args, **kwargs: fake)
    monkeypatch.setattr(api, 'time', types.SimpleNamespace(sleep=clock.sleep, monotonic=clock.monotonic,
                                                           time=clock.time))
    return fake


@pytest.fixture
def run_module(capsys):
    """Run a module's main() with arguments; return its JSON result (failed results included)."""

    def run(module, check_mode=False, diff=False, **args):
        args = dict(args)
        args.setdefault('url', BASE_URL)
        args.setdefault('token', TOKEN)
        args = {k: v for k, v in args.items() if v is not OMIT}
        args['_ansible_check_mode'] = check_mode
        args['_ansible_diff'] = diff
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                module.main()
        out = capsys.readouterr().out
        return json.loads(out)

    return run
