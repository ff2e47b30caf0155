# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

from ansible_collections.espalier.mdm.plugins.modules import dep_device_info, dep_sync, dep_virtual_server_info


def test_virtual_server_info_lists_and_finds(fake_api, run_module):
    one = fake_api.add_dep_server('School')
    fake_api.add_dep_server('Office')
    result = run_module(dep_virtual_server_info)
    assert [vs['name'] for vs in result['virtual_servers']] == ['School', 'Office']
    assert run_module(dep_virtual_server_info, name='School')['virtual_servers'] == [one]
    assert run_module(dep_virtual_server_info, id=one['id'])['virtual_servers'] == [one]
    assert run_module(dep_virtual_server_info, id=999)['virtual_servers'] == []
    assert result['changed'] is False


def test_sync_waits_and_returns_the_counts(fake_api, run_module, clock):
    server = fake_api.add_dep_server('School')
    fake_api.dep_sync_result.update(added=3, pages=1)
    result = run_module(dep_sync, name='School', wait=True, full=True)
    assert result['changed'] is True and result['counts']['added'] == 3
    assert result['virtual_server'] == server['id']
    assert fake_api.calls_to('POST', r'/sync_devices/$')[0][2] == {'full_sync': 'true'}
    assert fake_api.tasks[result['task_id']]['full'] == 'true'


def test_sync_without_changes_is_not_changed(fake_api, run_module, clock):
    server = fake_api.add_dep_server('School')
    result = run_module(dep_sync, id=server['id'], wait=True)
    assert result['changed'] is False and result['counts']['pages'] == 1


def test_sync_check_mode_starts_nothing(fake_api, run_module):
    fake_api.add_dep_server('School')
    result = run_module(dep_sync, name='School', check_mode=True)
    assert result['changed'] is True and result['task_id'] is None
    assert not fake_api.calls_to('POST', r'.')


def test_sync_of_an_unknown_server_fails(fake_api, run_module):
    result = run_module(dep_sync, name='Nope')
    assert result['failed'] is True and result['msg'] == "no DEP virtual server named 'Nope'"
    result = run_module(dep_sync, id=42)
    assert result['failed'] is True and result['msg'] == 'no DEP virtual server with id 42'


def test_device_info_follows_pages_and_filters(fake_api, run_module):
    server = fake_api.add_dep_server('School')
    for i in range(120):
        fake_api.add_dep_device(server, 'SERIAL%04d' % i, device_family='iPad' if i % 2 else 'Mac')
    result = run_module(dep_device_info, device_family='Mac')
    assert len(result['dep_devices']) == 60 and all(d['device_family'] == 'Mac' for d in result['dep_devices'])
    one = run_module(dep_device_info, serial_number='SERIAL0007')['dep_devices']
    assert [d['serial_number'] for d in one] == ['SERIAL0007']
    assert run_module(dep_device_info, virtual_server=server['id'] + 100)['dep_devices'] == []


def test_token_request_upload_and_renewal(fake_api, run_module):
    from ansible_collections.espalier.mdm.plugins.modules import dep_token

    requested = run_module(dep_token, action='request')
    assert requested['changed'] is True and requested['token']['certificate'].startswith('-----BEGIN CERTIFICATE')
    p7m = 'Content-Type: application/pkcs7-mime; smime-type=enveloped-data\n\nMIAGCSqG'
    uploaded = run_module(dep_token, action='upload', token_id=requested['token']['id'], p7m=p7m)
    server = uploaded['virtual_server']
    assert fake_api.dep_uploads == [(requested['token']['id'], p7m)]
    assert p7m not in repr(uploaded)  # never echoed back
    renewal = run_module(dep_token, action='request', virtual_server=server['id'])
    assert renewal['token']['virtual_server'] == server['id']
    assert fake_api.calls_to('POST', r'/renew_token/$')
    again = run_module(dep_token, action='upload', token_id=renewal['token']['id'], p7m=p7m)
    assert again['virtual_server']['id'] == server['id']


def test_token_upload_errors(fake_api, run_module):
    from ansible_collections.espalier.mdm.plugins.modules import dep_token

    token = run_module(dep_token, action='request')['token']
    bad = run_module(dep_token, action='upload', token_id=token['id'], p7m='garbage')
    assert bad['failed'] is True and 'not an S/MIME message' in bad['msg']
    assert run_module(dep_token, action='upload', p7m='x')['failed'] is True
    checked = run_module(dep_token, action='upload', token_id=token['id'], p7m='smime', check_mode=True)
    assert checked['changed'] is True and not fake_api.dep_uploads
