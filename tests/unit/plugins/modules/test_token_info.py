# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

from ansible_collections.espalier.mdm.plugins.modules import token_info


def test_returns_the_token(fake_api, run_module):
    result = run_module(token_info, check_mode=True)
    assert result['changed'] is False
    assert result['token']['permissions'] == sorted(fake_api.permissions)
    assert result['missing_permissions'] == []
    assert fake_api.calls_to('GET', r'^/api/token_info/$')


def test_held_permissions_pass(fake_api, run_module):
    result = run_module(token_info, permissions=['mdm.add_devicecommand'])
    assert 'failed' not in result


def test_missing_permissions_fail_naming_them(fake_api, run_module):
    result = run_module(token_info, permissions=['mdm.add_devicecommand', 'mdm.change_enrolleddevice',
                                                 'mdm.change_devicecommand'], check_mode=True)
    assert result['failed'] is True
    assert result['missing_permissions'] == ['mdm.change_devicecommand', 'mdm.change_enrolleddevice']
    assert result['msg'].endswith('lacks mdm.change_devicecommand, mdm.change_enrolleddevice: the server would '
                                  'answer 403')


def test_a_bad_token_is_a_401(fake_api, run_module):
    result = run_module(token_info, token='wrong')
    assert result['failed'] is True and result['status'] == 401
