# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""store_app against the fake API: an artifact and its newest version from an adam id, check mode and diff, the
configuration compared as data, options updated in place, the location chosen when several have the app."""

from __future__ import annotations

import plistlib

import pytest

from ansible_collections.espalier.mdm.plugins.modules import location, store_app

ADAM = '361285480'


@pytest.fixture
def asset(fake_api, run_module):
    run_module(location, server_token=fake_api.add_vpp_token(uid='a', name='Paris'))
    loc_id = next(iter(fake_api.locations))
    return fake_api.add_location_asset(loc_id, 1, adam_id=ADAM, total_count=10)


def test_check_create_second_run(fake_api, run_module, asset):
    args = dict(name='Keynote', adam_id=ADAM, platforms=['macOS', 'iPadOS'], configuration={'Mode': 'kiosk'})
    checked = run_module(store_app, check_mode=True, diff=True, **args)
    assert checked['changed'] is True and not fake_api.fleet.artifacts and not fake_api.fleet.store_apps
    created = run_module(store_app, diff=True, **args)
    assert created['diff'] == checked['diff']
    assert created['store_app']['type'] == 'Store App'
    version = created['version']
    assert version['version'] == 1 and version['location_asset'] == asset['id'] and version['macos'] is True
    assert version['configuration_set'] is True and 'configuration' not in version
    posted = fake_api.calls_to('POST', r'/store_apps/$')[0][3]
    assert plistlib.loads(posted['configuration'].encode()) == {'Mode': 'kiosk'}
    assert posted['remove_on_unenroll'] is True and posted['vpn_uuid'] is None
    # the same app again, its configuration given as plist text: no change
    text = plistlib.dumps({'Mode': 'kiosk'}).decode()
    again = run_module(store_app, **dict(args, configuration=text))
    assert again['changed'] is False, again
    assert not fake_api.calls_to('PUT', r'.')


def test_options_and_configuration_update_the_newest_version_in_place(fake_api, run_module, asset):
    run_module(store_app, name='Keynote', adam_id=ADAM, platforms=['iOS'])
    changed = run_module(store_app, name='Keynote', adam_id=ADAM, platforms=['iOS'], removable=True,
                         vpn_uuid='3A9D2C6E-0F0B-4A4C-9D0B-5E1F2A3B4C5D', configuration={'Token': 'abc-secret-token'},
                         diff=True)
    assert changed['changed'] is True and changed['version']['version'] == 1
    assert changed['diff']['after']['version']['removable'] is True
    assert changed['diff']['after']['version']['configuration_set'] is True
    assert 'abc-secret-token' not in str(changed)  # the configuration is no_log: never in the result
    put = fake_api.calls_to('PUT', r'/store_apps/')[0][3]
    assert put['vpn_uuid'] == '3a9d2c6e-0f0b-4a4c-9d0b-5e1f2a3b4c5d' and put['shard_modulo'] == 100
    assert run_module(store_app, name='Keynote', adam_id=ADAM, platforms=['iOS'], removable=True,
                      vpn_uuid='3a9d2c6e-0f0b-4a4c-9d0b-5e1f2a3b4c5d', configuration={'Token': 'abc-secret-token'})['changed'] is False
    cleared = run_module(store_app, name='Keynote', adam_id=ADAM, platforms=['iOS'], removable=True)
    assert cleared['changed'] is True
    put = fake_api.calls_to('PUT', r'/store_apps/')[-1][3]
    assert put['vpn_uuid'] is None and put['configuration'] is None
    assert len(fake_api.calls_to('POST', r'/store_apps/$')) == 1


def test_the_location_must_be_chosen_when_several_have_the_app(fake_api, run_module, asset):
    run_module(location, server_token=fake_api.add_vpp_token(uid='b', name='Lyon'))
    lyon = [loc for loc in fake_api.locations.values() if loc['name'] == 'Lyon'][0]
    other = fake_api.add_location_asset(lyon['id'], 1, adam_id=ADAM, total_count=5)
    failed = run_module(store_app, name='Keynote', adam_id=ADAM, platforms=['iOS'])
    assert failed['failed'] is True and '2 locations' in failed['msg']
    chosen = run_module(store_app, name='Keynote', adam_id=ADAM, platforms=['iOS'], location='Lyon')
    assert chosen['version']['location_asset'] == other['id']


@pytest.mark.parametrize('args, text', [
    (dict(adam_id='999'), 'no location has the asset 999'),
    (dict(configuration='<plist><array/></plist>'), 'must be a dictionary'),
    (dict(configuration='not a plist'), 'not a property list'),
    (dict(adam_id=None), 'adam_id is required'),
])
def test_refusals(fake_api, run_module, asset, args, text):
    result = run_module(store_app, **dict(dict(name='Keynote', adam_id=ADAM, platforms=['iOS']), **args))
    assert result['failed'] is True and text in result['msg'], result
    assert not fake_api.fleet.store_apps


def test_another_kind_of_artifact_is_refused_and_absent_deletes(fake_api, run_module, asset):
    fake_api.fleet.add('api/mdm/artifacts', name='Wi-Fi', type='Profile', channel='Device')
    assert 'not a store app' in run_module(store_app, name='Wi-Fi', adam_id=ADAM, platforms=['iOS'])['msg']
    run_module(store_app, name='Keynote', adam_id=ADAM, platforms=['iOS'])
    gone = run_module(store_app, name='Keynote', state='absent')
    assert gone['changed'] is True and not any(a['name'] == 'Keynote' for a in fake_api.fleet.artifacts.values())
    assert run_module(store_app, name='Keynote', state='absent')['changed'] is False
