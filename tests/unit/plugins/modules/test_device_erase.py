# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import pytest

from ansible_collections.espalier.mdm.plugins.modules import device_erase


@pytest.fixture
def devices(fake_api):
    return dict(
        silicon=fake_api.add_device(serial_number='SILICON', apple_silicon=True),
        t2=fake_api.add_device(serial_number='T2MAC', apple_silicon=False, activation_lock_manageable=True),
        intel=fake_api.add_device(serial_number='OLDMAC', apple_silicon=False, activation_lock_manageable=False),
        ipad=fake_api.add_device(serial_number='IPAD', platform='iPadOS', model='iPad13,18', apple_silicon=False),
        tv=fake_api.add_device(serial_number='TV', platform='tvOS', model='AppleTV11,1'),
    )


def queued(fake_api):
    return [c[3] for c in fake_api.calls_to('POST', r'/erase/$') if 'dry_run' not in c[2]]


@pytest.mark.parametrize('serial, args, body', [
    ('SILICON', {}, {}),
    # before, the module guessed a PIN rule and refused unsupervised T2 Macs: the server decides
    ('T2MAC', {}, {}),
    ('OLDMAC', dict(pin='ab12CD'), dict(pin='ab12CD')),
    ('T2MAC', dict(pin='123456'), dict(pin='123456')),  # does not apply: the server ignores it
    ('IPAD', dict(disallow_proximity_setup=True, preserve_data_plan=False),
     dict(disallow_proximity_setup=True, preserve_data_plan=False)),
    ('TV', {}, {}),
])
def test_queues_erase_with_the_arguments(fake_api, run_module, devices, serial, args, body):
    result = run_module(device_erase, serial_number=serial, **args)
    assert result['changed'] is True
    assert result['command']['name'] == 'EraseDevice'
    assert queued(fake_api) == [body]


def test_a_t2_mac_that_reported_it_needs_a_pin_gets_the_servers_answer(fake_api, run_module):
    fake_api.add_device(serial_number='T2PIN', apple_silicon=False, reported_pin_required_for_erase=True)
    result = run_module(device_erase, serial_number='T2PIN', check_mode=True)
    assert result['failed'] is True and 'pin: This field is required.' in result['msg']
    assert run_module(device_erase, serial_number='T2PIN', pin='Ab12Cd', check_mode=True)['changed'] is True


@pytest.mark.parametrize('check_mode', [True, False])
@pytest.mark.parametrize('serial, args, problem', [
    ('OLDMAC', {}, 'pin: This field is required.'),
    ('OLDMAC', dict(pin='12-456'), 'pin: This value does not match the required pattern.'),
    ('IPAD', dict(preserve_data_plan=True), 'disallow_proximity_setup: This field is required.'),
])
def test_the_server_judges_the_arguments_in_check_mode_too(fake_api, run_module, devices, serial, args, problem,
                                                           check_mode):
    result = run_module(device_erase, serial_number=serial, check_mode=check_mode, **args)
    assert result['failed'] is True
    assert result['msg'].startswith('cannot queue EraseDevice for ') and problem in result['msg']
    assert not queued(fake_api)


def test_pending_erase_is_not_queued_twice(fake_api, run_module, devices):
    first = run_module(device_erase, serial_number='SILICON')
    second = run_module(device_erase, serial_number='SILICON')
    assert (first['changed'], second['changed']) == (True, False)
    assert len(queued(fake_api)) == 1
    assert 'already pending' in second['msg']


def test_an_acknowledged_erase_is_not_queued_again(fake_api, run_module, devices):
    """Before, an erase task kept in a playbook wiped the re-provisioned device at every run."""
    fake_api.add_command(devices['silicon'], 'EraseDevice', status='Acknowledged', result_time='2024-05-02T10:00:00')
    result = run_module(device_erase, serial_number='SILICON')
    assert result['changed'] is False and 'already acknowledged' in result['msg']
    assert not queued(fake_api)
    again = run_module(device_erase, serial_number='SILICON', since='2024-06-01')
    assert again['changed'] is True and len(queued(fake_api)) == 1


def test_check_mode_queues_nothing(fake_api, run_module, devices):
    result = run_module(device_erase, serial_number='OLDMAC', pin='ab12CD', check_mode=True)
    assert result['changed'] is True
    assert not queued(fake_api)


def test_check_mode_with_a_pending_erase_is_not_a_change(fake_api, run_module, devices):
    fake_api.add_command(devices['silicon'], 'EraseDevice')
    assert run_module(device_erase, serial_number='SILICON', check_mode=True)['changed'] is False


def test_wait_until_acknowledged(fake_api, run_module, devices):
    pending = fake_api.add_command(devices['ipad'], 'EraseDevice',
                                   arguments=dict(DisallowProximitySetup=True, PreserveDataPlan=True))
    fake_api.command_script[pending['uuid']] = ['NotNow', 'Acknowledged']
    result = run_module(device_erase, serial_number='IPAD', disallow_proximity_setup=True,
                        preserve_data_plan=True, wait=True)
    assert result['changed'] is False
    assert result['command']['status'] == 'Acknowledged'


def test_command_format_error_fails(fake_api, run_module, devices):
    pending = fake_api.add_command(devices['silicon'], 'EraseDevice')
    fake_api.command_script[pending['uuid']] = ['CommandFormatError']
    result = run_module(device_erase, serial_number='SILICON', wait=True)
    assert result['failed'] is True
    assert 'CommandFormatError' in result['msg']
