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


def queued(fake_api, action='lock'):
    """The bodies of the real (not dry-run) requests to queue a command."""
    return [c[3] for c in fake_api.calls_to('POST', r'/%s/$' % action) if 'dry_run' not in c[2]]


def test_queues_a_lock_with_its_arguments_after_the_server_checked_them(fake_api, run_module, mac):
    result = run_module(device_lock, serial_number='C02MAC', pin='123456', lock_message='Lost', phone_number='+4900000')
    assert result['changed'] is True
    assert result['command']['name'] == 'DeviceLock'
    assert result['command']['status'] is None
    posts = fake_api.calls_to('POST', r'/devices/%d/lock/$' % mac['id'])
    assert [c[2] for c in posts] == [{'dry_run': '1'}, {}]  # the dry run first, with the same body
    assert posts[0][3] == posts[1][3] == dict(pin='123456', message='Lost', phone_number='+4900000')
    assert '123456' not in result['msg']


def test_the_same_pending_lock_is_returned_unchanged(fake_api, run_module, mac):
    pending = fake_api.add_command(mac, 'DeviceLock', status='NotNow', arguments={'PIN': '123456'})
    result = run_module(device_lock, serial_number='C02MAC', pin='123456')
    assert result['changed'] is False
    assert result['command']['uuid'] == pending['uuid']
    assert not queued(fake_api)


def test_a_pending_lock_with_another_pin_is_canceled_and_replaced(fake_api, run_module, mac):
    """Before, the other lock was reported as 'ok' and the admin held the wrong PIN."""
    other = fake_api.add_command(mac, 'DeviceLock', arguments={'PIN': '999999'})
    result = run_module(device_lock, serial_number='C02MAC', pin='111111', diff=True)
    assert result['changed'] is True
    assert other['status'] == 'Canceled'
    assert [c['uuid'] for c in result['replaced']] == [other['uuid']]
    assert result['command']['uuid'] != other['uuid']
    assert queued(fake_api) == [dict(pin='111111')]
    assert 'replacing %s' % other['uuid'] in result['msg']
    assert result['diff']['before']['pending_commands'][0]['uuid'] == other['uuid']
    assert [c['uuid'] for c in result['diff']['after']['pending_commands']] == [result['command']['uuid']]
    assert '111111' not in str(result['diff']) and '999999' not in str(result['diff'])


def test_a_fetched_lock_with_another_pin_fails_clearly(fake_api, run_module, mac):
    other = fake_api.add_command(mac, 'DeviceLock', arguments={'PIN': '999999'}, time='2024-03-28T16:28:00')
    result = run_module(device_lock, serial_number='C02MAC', pin='111111')
    assert result['failed'] is True
    assert 'a DeviceLock with other arguments (%s' % other['uuid'] in result['msg']
    assert 'cannot be replaced' in result['msg'] and 'force: true' in result['msg']
    assert other['status'] is None
    assert not queued(fake_api)


def test_check_mode_predicts_the_replacement_and_changes_nothing(fake_api, run_module, mac):
    other = fake_api.add_command(mac, 'DeviceLock', arguments={'PIN': '999999'})
    result = run_module(device_lock, serial_number='C02MAC', pin='111111', check_mode=True)
    assert result['changed'] is True
    assert [c['uuid'] for c in result['replaced']] == [other['uuid']]
    assert other['status'] is None
    assert not queued(fake_api) and not fake_api.calls_to('POST', r'/cancel/$')


def test_answered_lock_does_not_count_as_pending(fake_api, run_module, mac):
    fake_api.add_command(mac, 'DeviceLock', status='Error', arguments={'PIN': '123456'})
    fake_api.add_command(mac, 'EraseDevice', status=None)
    assert run_module(device_lock, serial_number='C02MAC', pin='123456')['changed'] is True


def test_second_run_is_not_a_change(fake_api, run_module, mac):
    first = run_module(device_lock, serial_number='C02MAC', pin='123456')
    second = run_module(device_lock, serial_number='C02MAC', pin='123456')
    assert (first['changed'], second['changed']) == (True, False)
    assert second['command']['uuid'] == first['command']['uuid']


def test_once_an_acknowledged_lock_is_not_queued_again(fake_api, run_module, mac):
    """Before, a lock task kept in a playbook locked the device again at every run."""
    done = fake_api.add_command(mac, 'DeviceLock', status='Acknowledged', arguments={'PIN': '123456'},
                                result_time='2024-05-02T10:00:00')
    result = run_module(device_lock, serial_number='C02MAC', pin='123456')
    assert result['changed'] is False
    assert result['command']['uuid'] == done['uuid']
    assert 'already acknowledged' in result['msg']
    assert not queued(fake_api)


@pytest.mark.parametrize('args', [
    dict(pin='654321'),  # another request
    dict(pin='123456', since='2024-05-03'),  # acknowledged before since
    dict(pin='123456', since='2024-05-02T10:00:01Z'),
    dict(pin='123456', once=False),
    dict(pin='123456', force=True),
])
def test_once_counts_only_the_same_request_since_since(fake_api, run_module, mac, args):
    fake_api.add_command(mac, 'DeviceLock', status='Acknowledged', arguments={'PIN': '123456'},
                         result_time='2024-05-02T10:00:00')
    assert run_module(device_lock, serial_number='C02MAC', **args)['changed'] is True
    assert len(queued(fake_api)) == 1


def test_since_at_or_before_the_acknowledgement_keeps_it_done(fake_api, run_module, mac):
    fake_api.add_command(mac, 'DeviceLock', status='Acknowledged', arguments={'PIN': '123456'},
                         result_time='2024-05-02T10:00:00')
    for since in ('2024-05-02', '2024-05-02T12:00:00+02:00'):
        assert run_module(device_lock, serial_number='C02MAC', pin='123456', since=since)['changed'] is False


def test_a_bad_since_is_refused(fake_api, run_module, mac):
    result = run_module(device_lock, serial_number='C02MAC', pin='123456', since='last tuesday')
    assert result['failed'] is True
    assert result['msg'].startswith("since must be an ISO 8601 date")


def test_force_queues_another(fake_api, run_module, mac):
    fake_api.add_command(mac, 'DeviceLock', arguments={'PIN': '123456'})
    assert run_module(device_lock, serial_number='C02MAC', pin='123456', force=True)['changed'] is True
    assert len([c for c in fake_api.commands if c['name'] == 'DeviceLock']) == 2


def test_check_mode_queues_nothing(fake_api, run_module, mac):
    result = run_module(device_lock, serial_number='C02MAC', pin='123456', check_mode=True, diff=True, wait=True)
    assert result['changed'] is True
    assert result['command'] == dict(name='DeviceLock', enrolled_device=mac['id'], status=None,
                                     request_hash=fake_api.request_hash('DeviceLock', {'PIN': '123456'}))
    assert result['diff']['before'] == dict(pending_commands=[])
    assert not queued(fake_api)
    assert 'check mode' in result['msg']


@pytest.mark.parametrize('check_mode', [True, False])
@pytest.mark.parametrize('args, problem', [
    (dict(serial_number='C02MAC'), 'pin: This field is required.'),
    (dict(serial_number='C02MAC', pin='12345'), 'pin: This value does not match the required pattern.'),
    # before, check mode said changed for a letter PIN and the run failed
    (dict(serial_number='C02MAC', pin='abcdef'), 'pin: This value does not match the required pattern.'),
    (dict(serial_number='F17PHONE', lock_message='x' * 256),
     'message: Ensure this field has no more than 255 characters.'),
    (dict(serial_number='F17PHONE', phone_number='1' * 16),
     'phone_number: Ensure this field has no more than 15 characters.'),
])
def test_the_server_judges_the_arguments_in_check_mode_too(fake_api, run_module, mac, iphone, args, problem,
                                                           check_mode):
    result = run_module(device_lock, check_mode=check_mode, **args)
    assert result['failed'] is True
    assert result['msg'].startswith('cannot queue DeviceLock for ')
    assert result['msg'].count(problem) == 1
    assert not queued(fake_api)


def test_a_pin_for_an_iphone_is_ignored_as_the_server_does(fake_api, run_module, iphone):
    result = run_module(device_lock, serial_number='F17PHONE', pin='123456')
    assert result['changed'] is True


def test_tvos_can_be_locked(fake_api, run_module):
    fake_api.add_device(serial_number='TV', platform='tvOS', model='AppleTV11,1')
    assert run_module(device_lock, serial_number='TV')['changed'] is True


def test_a_mac_that_reported_no_pin_is_needed_is_locked_without_one(fake_api, run_module):
    fake_api.add_device(serial_number='NOPIN', reported_pin_required_for_lock=False)
    assert run_module(device_lock, serial_number='NOPIN')['changed'] is True


def test_iphone_lock_without_pin(fake_api, run_module, iphone):
    result = run_module(device_lock, serial_number='F17PHONE', lock_message='Lost iPhone')
    assert result['changed'] is True
    assert queued(fake_api) == [dict(message='Lost iPhone')]


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
    pending = fake_api.add_command(mac, 'DeviceLock', arguments={'PIN': '123456'})
    fake_api.command_script[pending['uuid']] = ['Error']
    pending['error_chain'] = [dict(ErrorCode=12021, ErrorDomain='MCMDMErrorDomain')]
    result = run_module(device_lock, serial_number='C02MAC', pin='123456', wait=True)
    assert result['failed'] is True
    assert 'ended with status Error' in result['msg']
    assert result['command']['status'] == 'Error'


def test_wait_times_out_readably(fake_api, run_module, clock, mac):
    pending = fake_api.add_command(mac, 'DeviceLock', arguments={'PIN': '123456'})
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


def test_server_validation_errors_are_shown_per_field_once(fake_api, run_module, mac):
    fake_api.inject(400, {'phone_number': ['Enter a valid number.']}, method='POST')
    result = run_module(device_lock, serial_number='C02MAC', pin='123456', phone_number='abc')
    assert result['failed'] is True
    assert result['msg'].count('phone_number: Enter a valid number.') == 1


def test_a_pin_given_as_a_six_digit_number_is_taken_as_a_string(fake_api, run_module, mac):
    result = run_module(device_lock, serial_number='C02MAC', pin=123456)
    assert result['changed'] is True
    assert queued(fake_api) == [dict(pin='123456')]


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
