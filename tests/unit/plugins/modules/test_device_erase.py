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


@pytest.mark.parametrize('serial, args, body', [
    ('SILICON', {}, {}),
    ('T2MAC', {}, {}),
    ('OLDMAC', dict(pin='ab12CD'), dict(pin='ab12CD')),
    # Whether a T2 Mac needs a PIN is the server's call (PINRequiredForEraseDevice): passed on.
    ('T2MAC', dict(pin='123456'), dict(pin='123456')),
    ('IPAD', dict(disallow_proximity_setup=True, preserve_data_plan=False),
     dict(disallow_proximity_setup=True, preserve_data_plan=False)),
    ('TV', {}, {}),
])
def test_queues_erase_with_the_platform_arguments(fake_api, run_module, devices, serial, args, body):
    result = run_module(device_erase, serial_number=serial, **args)
    assert result['changed'] is True
    assert result['command']['name'] == 'EraseDevice'
    assert fake_api.calls_to('POST', r'/erase/$')[0][3] == body


@pytest.mark.parametrize('serial, args, problem', [
    ('SILICON', dict(pin='123456'), 'pin can only be set for Intel Macs (this device is an Apple silicon Mac)'),
    ('TV', dict(pin='123456'), 'pin can only be set for Intel Macs (this device is tvOS)'),
    ('OLDMAC', {}, 'pin is required to erase an Intel Mac without a T2 chip'),
    ('OLDMAC', dict(pin='12-456'), 'pin must be 6 letters or digits'),
    ('IPAD', dict(preserve_data_plan=True), 'disallow_proximity_setup is required to erase an iPadOS device'),
    ('IPAD', dict(disallow_proximity_setup=True, preserve_data_plan=True, pin='123456'),
     'pin cannot be set for an iPadOS device'),
    ('SILICON', dict(preserve_data_plan=True), 'preserve_data_plan can only be set for iOS and iPadOS devices'),
])
def test_platform_rules_checked_before_the_call(fake_api, run_module, devices, serial, args, problem):
    result = run_module(device_erase, serial_number=serial, **args)
    assert result['failed'] is True
    assert problem in result['msg']
    assert not fake_api.calls_to('POST', r'.')


def test_user_enrollments_cannot_be_erased(fake_api, run_module):
    fake_api.add_device(serial_number='BYOD', platform='iOS', user_enrollment=True)
    result = run_module(device_erase, serial_number='BYOD', disallow_proximity_setup=True, preserve_data_plan=True)
    assert result['failed'] is True
    assert 'EraseDevice is not available on user enrollments' in result['msg']


def test_pending_erase_is_not_queued_twice(fake_api, run_module, devices):
    first = run_module(device_erase, serial_number='SILICON')
    second = run_module(device_erase, serial_number='SILICON')
    assert (first['changed'], second['changed']) == (True, False)
    assert len(fake_api.calls_to('POST', r'/erase/$')) == 1
    assert 'already pending' in second['msg']


def test_check_mode_queues_nothing(fake_api, run_module, devices):
    result = run_module(device_erase, serial_number='OLDMAC', pin='ab12CD', check_mode=True)
    assert result['changed'] is True
    assert not fake_api.calls_to('POST', r'.')


def test_check_mode_with_a_pending_erase_is_not_a_change(fake_api, run_module, devices):
    fake_api.add_command(devices['silicon'], 'EraseDevice')
    assert run_module(device_erase, serial_number='SILICON', check_mode=True)['changed'] is False


def test_wait_until_acknowledged(fake_api, run_module, devices):
    pending = fake_api.add_command(devices['ipad'], 'EraseDevice')
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
