# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""tag, blueprint, profile and blueprint_artifact, and their _info twins, against the fake API."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ansible_collections.espalier.mdm.plugins.modules import (
    blueprint, blueprint_artifact, blueprint_artifact_info, blueprint_info, device_artifact_info, profile, profile_info, tag,
    tag_info,
)

V1 = b'<plist><dict><key>PayloadIdentifier</key><string>com.example.wifi</string></dict></plist>'
V2 = V1.replace(b'wifi', b'wifi2')


@pytest.mark.parametrize('module, args, key', [
    (tag, dict(name='pilot', color='00AA00'), 'tag'),
    (blueprint, dict(name='Staff', inventory_interval=14400, collect_apps='managed_only'), 'blueprint'),
])
def test_named_objects_check_apply_and_second_run(fake_api, run_module, module, args, key):
    checked = run_module(module, check_mode=True, diff=True, **args)
    assert checked['changed'] is True and not fake_api.calls_to('POST', r'.')
    applied = run_module(module, diff=True, **args)
    assert applied['changed'] is True and applied['diff'] == checked['diff']
    assert applied['diff']['before'] == dict(state='absent')
    again = run_module(module, **args)
    assert again['changed'] is False and len(fake_api.calls_to('POST', r'.')) == 1
    gone = run_module(module, name=args['name'], state='absent', diff=True)
    assert gone['changed'] is True and gone['diff']['after'] == dict(state='absent')
    assert run_module(module, name=args['name'], state='absent')['changed'] is False


def test_blueprint_sends_zentral_numbers_and_updates_only_declared_fields(fake_api, run_module):
    created = run_module(blueprint, name='Staff', collect_profiles='all')['blueprint']
    assert created['collect_profiles'] == 2 and created['inventory_interval'] == 86400
    result = run_module(blueprint, name='Staff', collect_apps='none', inventory_interval=14400, diff=True)
    assert result['changed'] is True
    assert result['diff'] == dict(before=dict(inventory_interval=86400), after=dict(inventory_interval=14400))
    put = fake_api.calls_to('PUT', r'/blueprints/%d/$' % created['id'])[0][3]
    assert put['collect_profiles'] == 2 and put['collect_apps'] == 0 and put['name'] == 'Staff'
    assert run_module(blueprint_info, name='Staff')['blueprints'][0]['inventory_interval'] == 14400
    assert run_module(blueprint_info, name='Nope')['blueprints'] == []


def test_tag_color_is_compared_as_the_server_stores_it(fake_api, run_module):
    run_module(tag, name='pilot', color='00AA00')
    assert run_module(tag, name='pilot', color='00aa00')['changed'] is False
    assert [t['name'] for t in run_module(tag_info)['tags']] == ['pilot']


def test_profile_versions_follow_the_file(fake_api, run_module, tmp_path):
    source = tmp_path / 'wifi.mobileconfig'
    source.write_bytes(V1)
    checked = run_module(profile, name='Wi-Fi', source=str(source), platforms=['macOS'], check_mode=True, diff=True)
    assert checked['changed'] is True and not fake_api.fleet.artifacts
    assert checked['diff']['after']['version'] == dict(version=1, source_sha256=hashlib.sha256(V1).hexdigest())
    first = run_module(profile, name='Wi-Fi', source=str(source), platforms=['macOS'], diff=True)
    assert first['version']['version'] == 1 and first['diff'] == checked['diff']
    posted = fake_api.calls_to('POST', r'/profiles/$')[0][3]
    assert base64.b64decode(posted['source']) == V1 and posted['macos'] is True and posted['ios'] is False
    assert run_module(profile, name='Wi-Fi', source=str(source), platforms=['macOS'])['changed'] is False
    source.write_bytes(V2)
    second = run_module(profile, name='Wi-Fi', source=str(source), platforms=['macOS'], diff=True)
    assert second['changed'] is True and second['version']['version'] == 2
    assert second['diff']['before']['version']['version'] == 1
    assert 'source' not in second['version']
    info = run_module(profile_info, name='Wi-Fi')['profiles']
    assert [v['version'] for v in info[0]['versions']] == [2, 1]
    assert info[0]['versions'][0]['counts'] == dict(pending=0, installed=0, failed=0, removed=0)


def test_profile_scope_change_updates_the_newest_version_in_place(fake_api, run_module):
    run_module(profile, name='Wi-Fi', content=V1.decode(), platforms=['macOS'])
    result = run_module(profile, name='Wi-Fi', content=V1.decode(), platforms=['macOS'],
                        min_os_versions={'macOS': '14.0'}, diff=True)
    assert result['changed'] is True and result['version']['version'] == 1
    assert result['diff']['after']['version'] == dict(macos_min_version='14.0')
    assert len(fake_api.calls_to('POST', r'/profiles/$')) == 1


def test_profile_needs_platforms_to_be_created_and_a_source(fake_api, run_module):
    assert 'platforms is required' in run_module(profile, name='Wi-Fi', content='x')['msg']
    assert 'one of source and content' in run_module(profile, name='Wi-Fi')['msg']
    assert 'cannot read' in run_module(profile, name='Wi-Fi', source='/nonexistent', platforms=['macOS'])['msg']


def test_blueprint_artifact_scope_by_tags_and_platforms(fake_api, run_module):
    bp = fake_api.fleet.add('api/mdm/blueprints', name='Staff')
    artifact = fake_api.fleet.add('api/mdm/artifacts', name='Wi-Fi', type='Profile', channel='Device')
    pilot = fake_api.fleet.add('api/inventory/tags', name='pilot')
    kiosk = fake_api.fleet.add('api/inventory/tags', name='kiosk')
    args = dict(blueprint='Staff', artifact='Wi-Fi', platforms=['macOS'], tags=['pilot'], excluded_tags=['kiosk'])
    checked = run_module(blueprint_artifact, check_mode=True, diff=True, **args)
    applied = run_module(blueprint_artifact, diff=True, **args)
    assert checked['diff'] == applied['diff'] and applied['changed'] is True
    item = applied['blueprint_artifact']
    assert item['blueprint'] == bp['id'] and item['artifact'] == artifact['id'] and item['macos'] is True
    assert item['tag_shards'] == [dict(tag=pilot['id'], shard=100)] and item['default_shard'] == 0
    assert item['excluded_tags'] == [kiosk['id']]
    assert run_module(blueprint_artifact, **args)['changed'] is False
    widened = run_module(blueprint_artifact, blueprint=str(bp['id']), artifact='Wi-Fi', tags=[], diff=True)
    assert widened['blueprint_artifact']['default_shard'] == 100 and widened['blueprint_artifact']['tag_shards'] == []
    assert [i['id'] for i in run_module(blueprint_artifact_info, blueprint='Staff')['blueprint_artifacts']] == [item['id']]
    removed = run_module(blueprint_artifact, blueprint='Staff', artifact='Wi-Fi', state='absent')
    assert removed['changed'] is True and not fake_api.fleet.blueprint_artifacts


def test_blueprint_artifact_names_what_does_not_exist(fake_api, run_module):
    fake_api.fleet.add('api/mdm/blueprints', name='Staff')
    assert "no artifact named 'Nope'" in run_module(blueprint_artifact, blueprint='Staff', artifact='Nope',
                                                    platforms=['macOS'])['msg']
    fake_api.fleet.add('api/mdm/artifacts', name='Wi-Fi', type='Profile', channel='Device')
    assert "no tag named 'x'" in run_module(blueprint_artifact, blueprint='Staff', artifact='Wi-Fi', platforms=['macOS'],
                                            tags=['x'])['msg']
    assert 'unknown Linux' in run_module(blueprint_artifact, blueprint='Staff', artifact='Wi-Fi', platforms=['Linux'])['msg']
    assert "no blueprint named 'Other'" in run_module(blueprint_artifact, blueprint='Other', artifact='Wi-Fi')['msg']


def test_check_mode_plans_a_declaration_whose_objects_do_not_exist_yet(fake_api, run_module):
    """--check on a fresh fleet declaration: the blueprint artifact names a blueprint, an artifact and a
    tag that earlier tasks of the same run would create; check mode plans it (by name) and writes nothing,
    while a real run still refuses a name that nothing created."""
    args = dict(blueprint='Staff', artifact='Wi-Fi', platforms=['macOS'], tags=['pilot'])
    checked = run_module(blueprint_artifact, check_mode=True, diff=True, **args)
    assert checked['changed'] is True and not fake_api.fleet.blueprint_artifacts
    assert checked['diff']['after']['blueprint'] == 'Staff' and checked['diff']['after']['artifact'] == 'Wi-Fi'
    assert checked['diff']['after']['tag_shards'] == [dict(tag='pilot', shard=100)]
    assert "no blueprint named 'Staff' yet" in str(checked.get('warnings'))
    assert "no blueprint named 'Staff'" in run_module(blueprint_artifact, **args)['msg']


def test_device_artifact_info_for_one_device_or_the_fleet(fake_api, run_module):
    mac = fake_api.add_device(serial_number='C02ABC')
    ipad = fake_api.add_device(serial_number='DMPXYZ')
    wifi = fake_api.fleet.add('api/mdm/artifacts', name='Wi-Fi', type='Profile', channel='Device')
    row = dict(artifact=wifi['id'], artifact_version='v1', operation='Installation', error_chain=None)
    fake_api.fleet.device_artifacts = {mac['id']: [dict(row, id=1, enrolled_device=mac['id'], status='installed')],
                                       ipad['id']: [dict(row, id=2, enrolled_device=ipad['id'], status='failed')]}
    one = run_module(device_artifact_info, serial_number='C02ABC')
    assert one['device']['id'] == mac['id'] and [r['id'] for r in one['device_artifacts']] == [1]
    assert [r['id'] for r in run_module(device_artifact_info)['device_artifacts']] == [1, 2]
    failed = run_module(device_artifact_info, status='failed', artifact='Wi-Fi')
    assert failed['device'] is None and [r['id'] for r in failed['device_artifacts']] == [2]
    assert fake_api.calls_to('GET', r'device_artifacts/$')[-1][2]['status'] == 'failed'
    assert run_module(device_artifact_info, serial_number='C02ABC', status='failed')['device_artifacts'] == []
    assert "no artifact named 'Nope'" in run_module(device_artifact_info, artifact='Nope')['msg']
