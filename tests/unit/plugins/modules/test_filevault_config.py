# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""filevault_config and filevault_config_info against the fake API."""

from __future__ import annotations

from ansible_collections.espalier.mdm.plugins.modules import filevault_config, filevault_config_info

ARGS = dict(name='Staff FileVault', escrow_location_display_name='Example IT', at_login_only=True, bypass_attempts=2,
            prk_rotation_interval_days=7)


def test_check_mode_create_second_run_and_delete(fake_api, run_module):
    checked = run_module(filevault_config, check_mode=True, diff=True, **ARGS)
    assert checked['changed'] is True and not fake_api.fleet.filevault_configs
    assert not fake_api.calls_to('POST', r'.')
    created = run_module(filevault_config, diff=True, **ARGS)
    assert created['changed'] is True and created['diff'] == checked['diff']
    assert created['diff']['before'] == dict(state='absent')
    config = created['filevault_config']
    assert config['bypass_attempts'] == 2 and config['prk_rotation_interval_days'] == 7
    assert config['show_recovery_key'] is False  # the server's default
    assert run_module(filevault_config, **ARGS)['changed'] is False
    assert run_module(filevault_config, name='Staff FileVault')['changed'] is False  # nothing declared
    assert len(fake_api.calls_to('POST', r'filevault_configs/$')) == 1
    gone = run_module(filevault_config, name='Staff FileVault', state='absent', diff=True)
    assert gone['changed'] is True and gone['diff']['after'] == dict(state='absent')
    assert not fake_api.fleet.filevault_configs
    assert run_module(filevault_config, name='Staff FileVault', state='absent')['changed'] is False


def test_update_sends_the_whole_object_and_diffs_only_what_changed(fake_api, run_module):
    config = run_module(filevault_config, **ARGS)['filevault_config']
    checked = run_module(filevault_config, name='Staff FileVault', prk_rotation_interval_days=30, check_mode=True,
                         diff=True)
    assert checked['changed'] is True and fake_api.fleet.filevault_configs[config['id']]['prk_rotation_interval_days'] == 7
    result = run_module(filevault_config, name='Staff FileVault', prk_rotation_interval_days=30, diff=True)
    assert result['diff'] == checked['diff'] == dict(before=dict(prk_rotation_interval_days=7),
                                                     after=dict(prk_rotation_interval_days=30))
    put = fake_api.calls_to('PUT', r'/filevault_configs/%d/$' % config['id'])[0][3]
    assert put['escrow_location_display_name'] == 'Example IT' and put['at_login_only'] is True
    assert put['bypass_attempts'] == 2 and 'id' not in put and 'created_at' not in put


def test_turning_at_login_only_off_sends_the_only_bypass_value_the_server_takes(fake_api, run_module):
    run_module(filevault_config, **ARGS)
    result = run_module(filevault_config, name='Staff FileVault', at_login_only=False, diff=True)
    assert result['changed'] is True, result
    assert result['filevault_config']['bypass_attempts'] == -1
    assert result['diff']['after'] == dict(at_login_only=False, bypass_attempts=-1)


def test_errors_before_anything_is_written(fake_api, run_module):
    assert 'escrow_location_display_name is required' in run_module(filevault_config, name='X')['msg']
    assert 'must be >= 0 when at_login_only is true' in run_module(
        filevault_config, name='X', escrow_location_display_name='IT', at_login_only=True, check_mode=True)['msg']
    assert 'must be -1 when at_login_only is false' in run_module(
        filevault_config, name='X', escrow_location_display_name='IT', bypass_attempts=3)['msg']
    assert not fake_api.calls_to('POST', r'.')
    # what only the server checks comes back as its field error
    failed = run_module(filevault_config, name='X', escrow_location_display_name='IT', prk_rotation_interval_days=400)
    assert failed['failed'] is True and failed['status'] == 400 and 'prk_rotation_interval_days' in failed['errors']


def test_a_blueprint_keeps_its_configuration(fake_api, run_module):
    config = run_module(filevault_config, **ARGS)['filevault_config']
    fake_api.fleet.add('api/mdm/blueprints', name='Staff', filevault_config=config['id'])
    refused = run_module(filevault_config, name='Staff FileVault', state='absent')
    assert refused['failed'] is True and 'cannot be deleted' in refused['msg']


def test_info_by_name_id_or_all(fake_api, run_module):
    first = run_module(filevault_config, **ARGS)['filevault_config']
    run_module(filevault_config, name='Lab', escrow_location_display_name='Lab IT')
    assert [c['name'] for c in run_module(filevault_config_info)['filevault_configs']] == ['Staff FileVault', 'Lab']
    assert run_module(filevault_config_info, name='Lab')['filevault_configs'][0]['escrow_location_display_name'] == 'Lab IT'
    assert run_module(filevault_config_info, id=first['id'])['filevault_configs'] == [first]
    assert run_module(filevault_config_info, name='Nope')['filevault_configs'] == []
    assert run_module(filevault_config_info, id=999)['filevault_configs'] == []
    assert run_module(filevault_config_info, check_mode=True)['changed'] is False
