# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""recovery_password_config and recovery_password_config_info against the fake API: the static password is
compared when the server returns it, set once with update_password=on_create, and never shown."""

from __future__ import annotations

import json

import pytest

from ansible_collections.espalier.mdm.plugins.modules import recovery_password_config, recovery_password_config_info

SECRET = 'correct-horse-battery'
STATIC = dict(name='Lab', dynamic_password=False, static_password=SECRET)


def _shows_no_secret(result):
    # Ansible masks the value of a no_log option in what the module returns: the mask showing means a leak
    text = json.dumps({k: v for k, v in result.items() if k != 'invocation'}) if isinstance(result, dict) else json.dumps(result)
    assert SECRET not in text and 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' not in text


def test_dynamic_config_check_create_second_run_delete(fake_api, run_module):
    args = dict(name='Staff', dynamic_password=True, rotation_interval_days=90, rotate_firmware_password=True)
    checked = run_module(recovery_password_config, check_mode=True, diff=True, **args)
    assert checked['changed'] is True and not fake_api.fleet.recovery_password_configs
    created = run_module(recovery_password_config, diff=True, **args)
    assert created['diff'] == checked['diff'] and created['diff']['before'] == dict(state='absent')
    assert created['recovery_password_config']['static_password_set'] is False
    assert 'static_password' not in created['recovery_password_config']
    assert fake_api.calls_to('POST', r'recovery_password_configs/$')[0][3]['static_password'] is None
    assert run_module(recovery_password_config, **args)['changed'] is False
    gone = run_module(recovery_password_config, name='Staff', state='absent', diff=True)
    assert gone['changed'] is True and not fake_api.fleet.recovery_password_configs


def test_static_password_is_compared_when_the_server_returns_it(fake_api, run_module):
    created = run_module(recovery_password_config, diff=True, **STATIC)
    _shows_no_secret(created)
    assert created['diff']['after']['static_password'] == '********'
    assert created['recovery_password_config']['static_password_set'] is True
    again = run_module(recovery_password_config, **STATIC)
    assert again['changed'] is False
    _shows_no_secret(again)
    changed = run_module(recovery_password_config, diff=True, **dict(STATIC, static_password='another-one'))
    assert changed['changed'] is True
    assert changed['diff'] == dict(before=dict(static_password='********'), after=dict(static_password='********'))
    config_id = created['recovery_password_config']['id']
    assert fake_api.fleet.recovery_password_configs[config_id]['static_password'] == 'another-one'
    kept = run_module(recovery_password_config, update_password='on_create', **STATIC)
    assert kept['changed'] is False
    assert fake_api.fleet.recovery_password_configs[config_id]['static_password'] == 'another-one'


def test_on_create_keeps_the_password_through_other_updates(fake_api, run_module):
    config_id = run_module(recovery_password_config, **STATIC)['recovery_password_config']['id']
    renamed = run_module(recovery_password_config, name='Lab', static_password='ignored', update_password='on_create',
                         dynamic_password=False, diff=True)
    assert renamed['changed'] is False
    fake_api.fleet.recovery_password_configs[config_id]['rotation_interval_days'] = 0
    put = run_module(recovery_password_config, name='Lab', static_password='ignored', update_password='on_create',
                     rotation_interval_days=0, rotate_firmware_password=False)
    assert put['changed'] is False
    # a PUT for another reason carries the password the server has, not the declared one
    fake_api.fleet.recovery_password_configs[config_id]['rotate_firmware_password'] = True
    fixed = run_module(recovery_password_config, name='Lab', static_password='ignored', update_password='on_create',
                       rotate_firmware_password=False)
    assert fixed['changed'] is True
    assert fake_api.calls_to('PUT', r'recovery_password_configs/')[-1][3]['static_password'] == SECRET


def test_a_server_that_does_not_return_the_password(fake_api, run_module):
    fake_api.fleet.reveal_static_password = False
    run_module(recovery_password_config, **STATIC)
    always = run_module(recovery_password_config, **STATIC)
    assert always['changed'] is True and 'cannot be compared' in str(always.get('warnings'))
    _shows_no_secret(always)
    once = run_module(recovery_password_config, update_password='on_create', **STATIC)
    assert once['changed'] is False


def test_switching_from_dynamic_to_static_needs_the_password(fake_api, run_module):
    run_module(recovery_password_config, name='Lab')
    assert 'static_password: required' in run_module(recovery_password_config, name='Lab', dynamic_password=False)['msg']
    switched = run_module(recovery_password_config, update_password='on_create', diff=True, **STATIC)
    assert switched['changed'] is True
    assert switched['diff']['after'] == dict(dynamic_password=False, static_password='********')
    back = run_module(recovery_password_config, name='Lab', dynamic_password=True, diff=True)
    assert back['changed'] is True and back['recovery_password_config']['static_password_set'] is False
    assert fake_api.calls_to('PUT', r'recovery_password_configs/')[-1][3]['static_password'] is None


@pytest.mark.parametrize('args, message', [
    (dict(dynamic_password=True, static_password=SECRET), 'cannot be set when dynamic_password is true'),
    (dict(dynamic_password=False, static_password=SECRET, rotation_interval_days=30), 'cannot be set with a static'),
    (dict(rotate_firmware_password=True), 'without a rotation interval'),
])
def test_zentral_rules_are_checked_first_in_check_mode_too(fake_api, run_module, args, message):
    result = run_module(recovery_password_config, name='Lab', check_mode=True, **args)
    assert result['failed'] is True and message in result['msg']
    _shows_no_secret(result)


def test_info_never_returns_the_password(fake_api, run_module):
    run_module(recovery_password_config, **STATIC)
    run_module(recovery_password_config, name='Staff')
    configs = run_module(recovery_password_config_info)['recovery_password_configs']
    _shows_no_secret(configs)
    assert [(c['name'], c['static_password_set']) for c in configs] == [('Lab', True), ('Staff', False)]
    assert run_module(recovery_password_config_info, name='Staff')['recovery_password_configs'][0]['name'] == 'Staff'
    assert run_module(recovery_password_config_info, name='Nope')['recovery_password_configs'] == []
