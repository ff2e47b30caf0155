# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""blueprint's FileVault, recovery password and OS update options, against the fake API."""

from __future__ import annotations

from ansible_collections.espalier.mdm.plugins.modules import blueprint

CONFIGS = dict(filevault_config='Staff FileVault', recovery_password_config='Staff recovery',
               software_update_enforcements=['macOS 14.6.1', 'iOS latest'], legacy_profiles_via_ddm=False)


def _objects(fake_api):
    fv = fake_api.fleet.add('api/mdm/filevault_configs', name='Staff FileVault', escrow_location_display_name='IT')
    rp = fake_api.fleet.add('api/mdm/recovery_password_configs', name='Staff recovery')
    macos = fake_api.fleet.add('api/mdm/software_update_enforcements', name='macOS 14.6.1', platforms=['macOS'],
                               os_version='14.6.1', local_datetime='2024-06-30T18:00')
    ios = fake_api.fleet.add('api/mdm/software_update_enforcements', name='iOS latest', platforms=['iOS'],
                             max_os_version='18')
    return fv, rp, macos, ios


def test_configs_by_name_check_create_second_run(fake_api, run_module):
    fv, rp, macos, ios = _objects(fake_api)
    checked = run_module(blueprint, name='Staff', check_mode=True, diff=True, **CONFIGS)
    assert checked['changed'] is True and not fake_api.fleet.blueprints
    created = run_module(blueprint, name='Staff', diff=True, **CONFIGS)
    assert created['diff'] == checked['diff']
    bp = created['blueprint']
    assert bp['filevault_config'] == fv['id'] and bp['recovery_password_config'] == rp['id']
    assert sorted(bp['software_update_enforcements']) == sorted([macos['id'], ios['id']])
    assert bp['legacy_profiles_via_ddm'] is False
    assert run_module(blueprint, name='Staff', **CONFIGS)['changed'] is False
    # by id, and in another order: the same
    by_id = dict(CONFIGS, filevault_config=str(fv['id']), software_update_enforcements=[str(ios['id']), 'macOS 14.6.1'])
    assert run_module(blueprint, name='Staff', **by_id)['changed'] is False


def test_clearing_and_keeping_what_is_not_declared(fake_api, run_module):
    fv, rp, macos, ios = _objects(fake_api)
    bp = run_module(blueprint, name='Staff', **CONFIGS)['blueprint']
    renamed = run_module(blueprint, name='Staff', inventory_interval=14400)
    assert renamed['changed'] is True
    put = fake_api.calls_to('PUT', r'/blueprints/%d/$' % bp['id'])[-1][3]
    assert put['filevault_config'] == fv['id'] and put['legacy_profiles_via_ddm'] is False
    assert sorted(put['software_update_enforcements']) == sorted([macos['id'], ios['id']])
    cleared = run_module(blueprint, name='Staff', filevault_config='', software_update_enforcements=[], diff=True)
    assert cleared['changed'] is True
    assert cleared['diff'] == dict(before=dict(filevault_config=fv['id'],
                                               software_update_enforcements=bp['software_update_enforcements']),
                                   after=dict(filevault_config=None, software_update_enforcements=[]))
    assert cleared['blueprint']['recovery_password_config'] == rp['id']
    assert run_module(blueprint, name='Staff', filevault_config='', software_update_enforcements=[])['changed'] is False


def test_unknown_names_fail_and_check_mode_plans_them(fake_api, run_module):
    failed = run_module(blueprint, name='Staff', filevault_config='Nope')
    assert failed['failed'] is True and "no FileVault configuration named 'Nope'" in failed['msg']
    failed = run_module(blueprint, name='Staff', software_update_enforcements=['Nope'])
    assert "no software update enforcement named 'Nope'" in failed['msg']
    checked = run_module(blueprint, name='Staff', recovery_password_config='Later', check_mode=True, diff=True)
    assert checked['changed'] is True and checked['diff']['after']['recovery_password_config'] == 'Later'
    assert not fake_api.fleet.blueprints


def test_a_server_without_the_fields_gets_none_of_them_back(fake_api, run_module):
    """An update of an older blueprint shape sends back only the fields the server gave."""
    bp = fake_api.fleet.add('api/mdm/blueprints', name='Staff')
    for key in ('filevault_config', 'recovery_password_config', 'software_update_enforcements',
                'legacy_profiles_via_ddm', 'default_location'):
        del fake_api.fleet.blueprints[bp['id']][key]
    assert run_module(blueprint, name='Staff', inventory_interval=14400)['changed'] is True
    put = fake_api.calls_to('PUT', r'/blueprints/%d/$' % bp['id'])[-1][3]
    assert set(put) == {'name', 'inventory_interval', 'collect_apps', 'collect_certificates', 'collect_profiles'}


def test_a_field_the_server_does_not_have_fails_instead_of_changing_every_run(fake_api, run_module):
    bp = fake_api.fleet.add('api/mdm/blueprints', name='Staff')
    del fake_api.fleet.blueprints[bp['id']]['legacy_profiles_via_ddm']
    failed = run_module(blueprint, name='Staff', legacy_profiles_via_ddm=True, check_mode=True)
    assert failed['failed'] is True and 'have no legacy_profiles_via_ddm' in failed['msg']
    assert not fake_api.calls_to('PUT', r'.')
