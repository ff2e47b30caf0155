# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import pytest

from ansible_collections.espalier.mdm.plugins.modules import device_command


@pytest.fixture
def mac(fake_api):
    return fake_api.add_device(serial_number='C02MAC')


def test_queues_the_command_with_its_arguments(fake_api, run_module, mac):
    result = run_module(device_command, serial_number='C02MAC', name='ProfileList', arguments=dict(managed_only=True))
    assert result['changed'] is True
    assert result['command']['name'] == 'ProfileList'
    post = fake_api.calls_to('POST', r'/devices/%d/commands/$' % mac['id'])
    assert [c[2] for c in post] == [{'dry_run': '1'}, {}]
    assert post[0][3] == post[1][3] == dict(name='ProfileList', arguments=dict(managed_only=True))
    assert result['msg'] == "ProfileList %s queued for macOS device C02MAC (id %s)" % (result['command']['uuid'], mac['id'])


def test_every_run_queues_a_command(fake_api, run_module, mac):
    for dummy in range(2):
        assert run_module(device_command, id=mac['id'], name='DeviceInformation')['changed'] is True
    assert len(fake_api.commands) == 2


def test_unless_pending_returns_the_same_pending_command(fake_api, run_module, mac):
    pending = fake_api.add_command(mac, 'DeviceInformation', status='NotNow')
    result = run_module(device_command, id=mac['id'], name='DeviceInformation', unless_pending=True)
    assert result['changed'] is False
    assert result['command']['uuid'] == pending['uuid']
    assert len(fake_api.commands) == 1


def test_unless_pending_tells_requests_apart_by_their_arguments(fake_api, run_module, mac):
    other = fake_api.add_command(mac, 'ProfileList', arguments=dict(ManagedOnly=False))
    result = run_module(device_command, id=mac['id'], name='ProfileList', arguments=dict(managed_only=True),
                        unless_pending=True)
    assert result['changed'] is True and other['status'] is None  # left alone
    assert run_module(device_command, id=mac['id'], name='ProfileList', arguments=dict(managed_only=True),
                      unless_pending=True)['changed'] is False


def test_wait_returns_the_answer_with_its_result(fake_api, run_module, mac, clock):
    original = fake_api.add_command

    def add(device, name, **fields):
        command = original(device, name, **fields)
        fake_api.command_script[command['uuid']] = [None, 'Acknowledged']
        command['result'] = {'ProfileList': [{'PayloadIdentifier': 'com.example.wifi'}]}
        return command

    fake_api.add_command = add
    result = run_module(device_command, id=mac['id'], name='ProfileList', wait=True)
    assert result['command']['status'] == 'Acknowledged'
    assert result['command']['result']['ProfileList'][0]['PayloadIdentifier'] == 'com.example.wifi'
    assert result['msg'].endswith(': Acknowledged')


def test_check_mode_queues_nothing_and_says_so(fake_api, run_module, mac):
    result = run_module(device_command, id=mac['id'], name='RestartDevice', check_mode=True, wait=True)
    assert result['changed'] is True
    assert result['command'] == dict(name='RestartDevice', enrolled_device=mac['id'], status=None,
                                     request_hash=fake_api.request_hash('RestartDevice', {}))
    assert [c[2] for c in fake_api.calls_to('POST', r'.')] == [{'dry_run': '1'}]


@pytest.mark.parametrize('check_mode', [False, True])
def test_the_server_judges_the_name_and_the_arguments(fake_api, run_module, mac, check_mode):
    result = run_module(device_command, id=mac['id'], name='Reboot', check_mode=check_mode)
    assert result['failed'] is True
    assert result['msg'] == ('cannot queue Reboot for macOS device C02MAC (id %d): name: "Reboot" is not a valid '
                             'choice.' % mac['id'])
    result = run_module(device_command, id=mac['id'], name='ProfileList', arguments=dict(managed_only='maybe'),
                        check_mode=check_mode)
    assert 'managed_only: Must be a valid boolean.' in result['msg']
    assert not fake_api.commands
