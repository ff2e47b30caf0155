# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""filevault_prk_info and recovery_password_info: the secret in the result, nowhere else."""

from __future__ import annotations

import json

import pytest

from ansible_collections.espalier.mdm.plugins.modules import filevault_prk_info, recovery_password_info

SECRET = 'ABCD-EFGH-IJKL-MNOP-QRST-UVWX'
MODULES = [(filevault_prk_info, 'filevault_prk'), (recovery_password_info, 'recovery_password')]


@pytest.mark.parametrize('module, field', MODULES)
def test_returns_the_secret_of_the_device(fake_api, run_module, module, field):
    mac = fake_api.add_device(serial_number='C02MAC', **{'_' + field: SECRET})
    result = run_module(module, serial_number='C02MAC')
    assert result['changed'] is False
    assert (result[field], result['escrowed']) == (SECRET, True)
    assert result['device']['id'] == mac['id']
    text = json.dumps({k: v for k, v in result.items() if k != field})
    assert SECRET not in text  # not in msg, warnings, invocation or a diff
    assert 'diff' not in result


@pytest.mark.parametrize('module, field', MODULES)
def test_by_id_is_one_request(fake_api, run_module, module, field):
    mac = fake_api.add_device(serial_number='C02MAC', **{'_' + field: SECRET})
    result = run_module(module, id=mac['id'], check_mode=True)
    assert result[field] == SECRET
    assert [c[1] for c in fake_api.calls] == ['/api/mdm/devices/%d/%s/' % (mac['id'], field)]


@pytest.mark.parametrize('module, field', MODULES)
def test_nothing_escrowed_is_null_not_a_failure(fake_api, run_module, module, field):
    fake_api.add_device(serial_number='C02MAC')
    result = run_module(module, serial_number='C02MAC')
    assert (result[field], result['escrowed']) == (None, False)
    assert result['msg'].endswith('not escrowed')


def test_an_unknown_id_names_the_device(fake_api, run_module):
    result = run_module(filevault_prk_info, id=999)
    assert result['failed'] is True
    assert result['msg'] == 'no enrolled device with id 999'


def test_a_missing_permission_is_explained(fake_api, run_module):
    mac = fake_api.add_device(serial_number='C02MAC')
    fake_api.inject(403, {'detail': 'permission denied: this token lacks mdm.view_filevault_prk'})
    result = run_module(filevault_prk_info, id=mac['id'])
    assert 'lacks mdm.view_filevault_prk' in result['msg']
    assert result['msg'].endswith('The token lacks the permission for this operation.')
