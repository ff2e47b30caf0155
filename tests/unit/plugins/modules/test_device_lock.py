# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import pytest

from ansible_collections.espalier.mdm.plugins.modules import device_lock


@pytest.fixture
def mac(fake_api):
    return fake_api.add_device(serial_number='C02MAC', platform='macOS')


@pytest.fixture
def iphone(fake_api):
    return fake_api.add_device(serial_number='F17PHONE', platform='iOS', model='iPhone14,2')


def test_queues_a_lock_with_its_arguments(fake_api, run_module, mac):
    result = run_module(device_lock, serial_number='C02MAC', pin='123456', lock_message='Lost', phone_number='+4900000')
    assert result['changed'] is True
    assert result['command']['name'] == 'DeviceLock'
    assert result['command']['status'] is None
    post = fake_api.calls_to('POST', r'/devices/%d/lock/$' % mac['id'])
    assert post[0][3] == dict(pin='123456', message='Lost', phone_number='+4900000')
    assert '123456' not in result['msg']


def test_pending_lock_is_returned_unchanged(fake_api, run_module, mac):
    pending = fake_api.add_command(mac, 'DeviceLock', status='NotNow')
    result = run_module(device_lock, serial_number='C02MAC', pin='123456')
    assert result['changed'] is False
    assert result['command']['uuid'] == pending['uuid']
    assert not fake_api.calls_to('POST', r'.')


def test_answered_lock_does_not_count_as_pending(fake_api, run_module, mac):
    fake_api.add_command(mac, 'DeviceLock', status='Acknowledged')
    fake_api.add_command(mac, 'EraseDevice', status=None)
    assert run_module(device_lock, serial_number='C02MAC', pin='123456')['changed'] is True


def test_second_run_is_not_a_change(fake_api, run_module, mac):
    first = run_module(device_lock, serial_number='C02MAC', pin='123456')
    second = run_module(device_lock, serial_number='C02MAC', pin='123456')
    assert (first['changed'], second['changed']) == (True, False)
    assert second['command']['uuid'] == first['command']['uuid']


def test_force_queues_another(fake_api, run_module, mac):
    fake_api.add_command(mac, 'DeviceLock')
    assert run_module(device_lock, serial_number='C02MAC', pin='123456', force=True)['changed'] is True
    assert len([c for c in fake_api.commands if c['name'] == 'DeviceLock']) == 2


def test_check_mode_queues_nothing(fake_api, run_module, mac):
    result = run_module(device_lock, serial_number='C02MAC', pin='123456', check_mode=True, diff=True, wait=True)
    assert result['changed'] is True
    assert result['command'] == dict(name='DeviceLock', enrolled_device=mac['id'], status=None)
    assert result['diff']['before'] == dict(pending_command=None)
    assert not fake_api.calls_to('POST', r'.')
    assert 'check mode' in result['msg']


@pytest.mark.parametrize('args, problem', [
    (dict(serial_number='C02MAC'), 'pin is required to lock a macOS device'),
    (dict(serial_number='C02MAC', pin='12345'), 'pin must be 6 digits'),
    (dict(serial_number='C02MAC', pin='abcdef'), 'pin must be 6 digits'),
    (dict(serial_number='F17PHONE', pin='123456'), 'pin can only be set for macOS devices, not iOS'),
    (dict(serial_number='F17PHONE', lock_message='x' * 256), 'lock_message must be at most 255 characters'),
    (dict(serial_number='F17PHONE', phone_number='1' * 16), 'phone_number must be at most 15 characters'),
])
def test_platform_rules_checked_before_the_call(fake_api, run_module, mac, iphone, args, problem):
    result = run_module(device_lock, **args)
    assert result['failed'] is True
    assert problem in result['msg']
    assert not fake_api.calls_to('POST', r'.')


def test_tvos_cannot_be_locked(fake_api, run_module):
    fake_api.add_device(serial_number='TV', platform='tvOS', model='AppleTV11,1')
    result = run_module(device_lock, serial_number='TV')
    assert result['failed'] is True
    assert 'DeviceLock is not available on tvOS' in result['msg']


def test_iphone_lock_without_pin(fake_api, run_module, iphone):
    result = run_module(device_lock, serial_number='F17PHONE', lock_message='Lost iPhone')
    assert result['changed'] is True
    assert fake_api.calls_to('POST', r'/lock/$')[0][3] == dict(message='Lost iPhone')


def test_wait_returns_the_final_status_through_notnow(fake_api, run_module, clock, mac):
    original = fake_api.add_command

    def add_command(device, name, status=None, **fields):
        command = original(device, name, status, **fields)
        fake_api.command_script[command['uuid']] = [None, 'NotNow', 'Acknowledged']
        return command

    fake_api.add_command = add_command
    result = run_module(device_lock, serial_number='C02MAC', pin='123456', wait=True)
    assert result['changed'] is True
    assert result['command']['status'] == 'Acknowledged'
    assert 'Acknowledged' in result['msg']
    assert len(clock.sleeps) == 2


def test_wait_fails_when_the_command_errors(fake_api, run_module, mac):
    pending = fake_api.add_command(mac, 'DeviceLock')
    fake_api.command_script[pending['uuid']] = ['Error']
    pending['error_chain'] = [dict(ErrorCode=12021, ErrorDomain='MCMDMErrorDomain')]
    result = run_module(device_lock, serial_number='C02MAC', pin='123456', wait=True)
    assert result['failed'] is True
    assert 'ended with status Error' in result['msg']
    assert result['command']['status'] == 'Error'


def test_wait_times_out_readably(fake_api, run_module, clock, mac):
    pending = fake_api.add_command(mac, 'DeviceLock')
    result = run_module(device_lock, serial_number='C02MAC', pin='123456', wait=True, wait_timeout=30)
    assert result['failed'] is True
    assert 'command %s still not done after 30 seconds' % pending['uuid'] in result['msg']
    assert sum(clock.sleeps) == pytest.approx(30)
    assert result['changed'] is False
    assert result['command']['uuid'] == pending['uuid']


def test_wait_timeout_after_queueing_still_reports_the_change(fake_api, run_module, mac):
    result = run_module(device_lock, serial_number='C02MAC', pin='123456', wait=True, wait_timeout=5)
    assert result['failed'] is True
    assert result['changed'] is True
    assert result['command']['name'] == 'DeviceLock'
    assert len(fake_api.commands) == 1


def test_server_validation_errors_are_shown_per_field(fake_api, run_module, mac):
    fake_api.inject(400, {'detail': 'Invalid request.', 'errors': {'phone_number': ['Enter a valid number.']}},
                    method='POST')
    result = run_module(device_lock, serial_number='C02MAC', pin='123456', phone_number='abc')
    assert result['failed'] is True
    assert result['status'] == 400
    assert 'phone_number: Enter a valid number.' in result['msg']
    assert result['errors'] == {'phone_number': ['Enter a valid number.']}


def test_a_pin_given_as_a_six_digit_number_is_taken_as_a_string(fake_api, run_module, mac):
    result = run_module(device_lock, serial_number='C02MAC', pin=123456)
    assert result['changed'] is True
    assert fake_api.calls_to('POST', r'/lock/$')[0][3] == dict(pin='123456')


@pytest.mark.parametrize('pin', [5349, 1234])
def test_a_pin_that_yaml_turned_into_a_shorter_number_is_refused_with_a_hint(fake_api, run_module, mac, pin):
    result = run_module(device_lock, serial_number='C02MAC', pin=pin)
    assert result['failed'] is True
    assert result['msg'].startswith('pin is a number with fewer than 6 digits: YAML drops the leading zeros')
    assert 'Quote the PIN' in result['msg'] and '*' not in result['msg']
    assert not fake_api.calls


def test_a_non_positive_wait_timeout_is_refused_before_anything_is_queued(fake_api, run_module, mac):
    result = run_module(device_lock, serial_number='C02MAC', pin='123456', wait=True, wait_timeout=0)
    assert result['failed'] is True
    assert result['msg'] == 'wait_timeout must be a positive number of seconds, not 0'
    assert not fake_api.calls


def test_the_serial_number_matches_whatever_its_case(fake_api, run_module, mac):
    result = run_module(device_lock, serial_number='c02mac', pin='123456')
    assert result['changed'] is True
    assert result['device']['id'] == mac['id']
