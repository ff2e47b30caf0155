# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""declaration and declaration_info against the fake API: versions follow the declaration as data (key order,
JSON or YAML, ServerToken do not count), scope like profile, and blueprint_artifact takes declaration artifacts."""

from __future__ import annotations

import json

import pytest

from ansible_collections.espalier.mdm.plugins.modules import blueprint_artifact, declaration, declaration_info, profile

PASSCODE = {'Type': 'com.apple.configuration.passcode.settings', 'Identifier': 'com.example.passcode',
            'Payload': {'MinimumLength': 8, 'RequireAlphanumericPasscode': True}}
YAML = '''
Payload:
  RequireAlphanumericPasscode: true
  MinimumLength: 8
Identifier: com.example.passcode
Type: com.apple.configuration.passcode.settings
ServerToken: whatever-the-server-said
'''


def test_check_create_second_run_in_every_form(fake_api, run_module, tmp_path):
    checked = run_module(declaration, name='Passcode', content=PASSCODE, platforms=['macOS', 'iOS'], check_mode=True,
                         diff=True)
    assert checked['changed'] is True and not fake_api.fleet.artifacts and not fake_api.fleet.declarations
    created = run_module(declaration, name='Passcode', content=PASSCODE, platforms=['macOS', 'iOS'], diff=True)
    assert created['diff'] == checked['diff']
    assert created['declaration']['type'] == 'Configuration'
    version = created['version']
    assert version['version'] == 1 and version['identifier'] == 'com.example.passcode' and 'source' not in version
    assert version['macos'] is True and version['ios'] is True and version['ipados'] is False
    posted = fake_api.calls_to('POST', r'/declarations/$')[0][3]
    assert posted['source'] == PASSCODE and posted['version'] == 1
    # the same declaration: from a JSON file with other key order and spacing, from YAML text with a
    # ServerToken, as a JSON string
    json_file = tmp_path / 'passcode.json'
    json_file.write_text(json.dumps(dict(reversed(list(PASSCODE.items()))), indent=4))
    yaml_file = tmp_path / 'passcode.yml'
    yaml_file.write_text(YAML)
    for form in (dict(source=str(json_file)), dict(source=str(yaml_file)), dict(content=YAML),
                 dict(content=json.dumps(PASSCODE)), dict(content=dict(PASSCODE, ServerToken='x'))):
        again = run_module(declaration, name='Passcode', platforms=['macOS', 'iOS'], **form)
        assert again['changed'] is False, (form, again)
    assert len(fake_api.calls_to('POST', r'/declarations/$')) == 1
    assert not fake_api.calls_to('PUT', r'.')


def test_a_changed_declaration_is_a_new_version(fake_api, run_module):
    run_module(declaration, name='Passcode', content=PASSCODE, platforms=['macOS'])
    longer = dict(PASSCODE, Payload=dict(PASSCODE['Payload'], MinimumLength=12))
    checked = run_module(declaration, name='Passcode', content=longer, check_mode=True, diff=True)
    assert checked['changed'] is True and len(fake_api.fleet.declarations) == 1
    result = run_module(declaration, name='Passcode', content=longer, diff=True)
    assert result['version']['version'] == 2 and result['diff'] == checked['diff']
    assert result['diff']['before']['version']['version'] == 1
    assert result['diff']['after']['version']['version'] == 2
    assert run_module(declaration, name='Passcode', content=longer)['changed'] is False
    info = run_module(declaration_info, name='Passcode')['declarations']
    assert [v['version'] for v in info[0]['versions']] == [2, 1]
    assert info[0]['versions'][0]['counts'] == dict(pending=0, installed=0, failed=0, removed=0)
    assert 'source' not in info[0]['versions'][0]
    assert run_module(declaration_info, name='Nope')['declarations'] == []


def test_scope_change_updates_the_newest_version_in_place(fake_api, run_module):
    run_module(declaration, name='Passcode', content=PASSCODE, platforms=['macOS'])
    result = run_module(declaration, name='Passcode', content=PASSCODE, platforms=['macOS'],
                        min_os_versions={'macOS': '14.0'}, diff=True)
    assert result['changed'] is True and result['version']['version'] == 1
    assert result['diff']['after']['version'] == dict(macos_min_version='14.0')
    assert len(fake_api.calls_to('POST', r'/declarations/$')) == 1
    put = fake_api.calls_to('PUT', r'/declarations/')[0][3]
    assert put['source'] == PASSCODE and put['version'] == 1 and put['shard_modulo'] == 100


def test_the_artifact_type_follows_the_declaration(fake_api, run_module):
    activation = {'Type': 'com.apple.activation.simple', 'Identifier': 'com.example.activation',
                  'Payload': {'StandardConfigurations': ['com.example.passcode']}}
    assert run_module(declaration, name='Activation', content=activation, platforms=['macOS'])['declaration'][
        'type'] == 'Activation'
    refused = run_module(declaration, name='Activation', content=PASSCODE)
    assert refused['failed'] is True and 'needs a Configuration one' in refused['msg']
    run_module(profile, name='Wi-Fi', content='<plist/>', platforms=['macOS'])
    assert 'is a Profile, not a declaration' in run_module(declaration, name='Wi-Fi', content=PASSCODE)['msg']


@pytest.mark.parametrize('content, message', [
    ({'Type': 'com.example.thing', 'Identifier': 'x', 'Payload': {}}, 'Type must be com.apple.'),
    ({'Type': 'com.apple.configuration.passcode.settings', 'Payload': {}}, 'has no Identifier'),
    (dict(PASSCODE, Payload=[1]), 'Payload must be a dictionary'),
    ('[1, 2]', 'a declaration is a JSON object'),
    ('Type: [unclosed', 'neither JSON nor YAML'),
    ('Type: com.apple.configuration.x\nIdentifier: a\nPayload: {When: 2024-06-01}', 'not JSON data'),
])
def test_bad_declarations_fail_before_anything_is_written(fake_api, run_module, content, message):
    result = run_module(declaration, name='Bad', content=content, platforms=['macOS'])
    assert result['failed'] is True and message in result['msg']
    assert not fake_api.calls_to('POST', r'.')


def test_required_options_and_deletion(fake_api, run_module):
    assert 'platforms is required' in run_module(declaration, name='Passcode', content=PASSCODE)['msg']
    assert 'one of source and content' in run_module(declaration, name='Passcode', platforms=['macOS'])['msg']
    assert 'cannot read' in run_module(declaration, name='Passcode', source='/nonexistent', platforms=['macOS'])['msg']
    run_module(declaration, name='Passcode', content=PASSCODE, platforms=['macOS'])
    refused = run_module(declaration, name='Passcode', state='absent')  # its versions keep it, as on the server
    assert refused['failed'] is True and 'cannot be deleted' in refused['msg']
    fake_api.fleet.declarations.clear()
    gone = run_module(declaration, name='Passcode', state='absent', diff=True)
    assert gone['changed'] is True and gone['diff']['after'] == dict(state='absent')
    assert run_module(declaration, name='Passcode', state='absent')['changed'] is False


def test_blueprint_artifact_puts_a_declaration_on_a_blueprint(fake_api, run_module):
    bp = fake_api.fleet.add('api/mdm/blueprints', name='Staff')
    artifact = run_module(declaration, name='Passcode', content=PASSCODE, platforms=['macOS', 'iOS'])['declaration']
    args = dict(blueprint='Staff', artifact='Passcode', platforms=['macOS', 'iOS'])
    item = run_module(blueprint_artifact, **args)
    assert item['changed'] is True
    assert item['blueprint_artifact']['artifact'] == artifact['id'] and item['blueprint_artifact']['blueprint'] == bp['id']
    assert run_module(blueprint_artifact, **args)['changed'] is False
