# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""software_update_enforcement and software_update_enforcement_info against the fake API."""

from __future__ import annotations

import pytest

from ansible_collections.espalier.mdm.plugins.modules import software_update_enforcement, software_update_enforcement_info

ONE_TIME = dict(name='macOS 14.6.1', platforms=['macOS'], os_version='14.6.1', build_version='23G93',
                local_datetime='2024-06-30T18:00', tags=['pilot'])


def test_one_time_check_create_second_run_delete(fake_api, run_module):
    pilot = fake_api.fleet.add('api/inventory/tags', name='pilot')
    checked = run_module(software_update_enforcement, check_mode=True, diff=True, **ONE_TIME)
    assert checked['changed'] is True and not fake_api.fleet.software_update_enforcements
    created = run_module(software_update_enforcement, diff=True, **ONE_TIME)
    assert created['diff'] == checked['diff']
    sue = created['software_update_enforcement']
    assert sue['tags'] == [pilot['id']] and sue['local_datetime'] == '2024-06-30T18:00:00'
    assert sue['max_os_version'] == '' and sue['delay_days'] is None and sue['local_time'] is None
    # the server writes the time with seconds: the same declaration is no change
    assert run_module(software_update_enforcement, **ONE_TIME)['changed'] is False
    assert run_module(software_update_enforcement, **dict(ONE_TIME, local_datetime='2024-06-30 18:00:00'))['changed'] is False
    assert len(fake_api.calls_to('POST', r'software_update_enforcements/$')) == 1
    info = run_module(software_update_enforcement_info, name='macOS 14.6.1')['software_update_enforcements']
    assert info[0]['tag_names'] == ['pilot'] and info[0]['os_version'] == '14.6.1'
    gone = run_module(software_update_enforcement, name='macOS 14.6.1', state='absent', diff=True)
    assert gone['changed'] is True and not fake_api.fleet.software_update_enforcements
    assert run_module(software_update_enforcement, name='macOS 14.6.1', state='absent')['changed'] is False


def test_latest_mode_gets_the_server_defaults_and_is_idempotent(fake_api, run_module):
    args = dict(name='iOS latest', platforms=['iOS', 'iPadOS'], max_os_version='18', local_time='9:30')
    created = run_module(software_update_enforcement, **args)['software_update_enforcement']
    assert created['delay_days'] == 14 and created['local_time'] == '09:30:00' and created['os_version'] == ''
    assert run_module(software_update_enforcement, **dict(args, platforms=['iPadOS', 'iOS']))['changed'] is False
    moved = run_module(software_update_enforcement, name='iOS latest', delay_days=3, diff=True)
    assert moved['diff'] == dict(before=dict(delay_days=14), after=dict(delay_days=3))


def test_switching_modes_clears_the_other_modes_fields(fake_api, run_module):
    run_module(software_update_enforcement, name='Macs', platforms=['macOS'], max_os_version='15', delay_days=7)
    one_time = run_module(software_update_enforcement, name='Macs', os_version='14.6.1',
                          local_datetime='2024-07-01T09:00', diff=True)
    assert one_time['changed'] is True, one_time
    put = fake_api.calls_to('PUT', r'software_update_enforcements/')[-1][3]
    assert put['max_os_version'] == '' and put['delay_days'] is None and put['local_time'] is None
    assert put['platforms'] == ['macOS']
    back = run_module(software_update_enforcement, name='Macs', max_os_version='15')
    assert back['changed'] is True
    sue = back['software_update_enforcement']
    assert sue['os_version'] == '' and sue['local_datetime'] is None and sue['delay_days'] == 14
    assert run_module(software_update_enforcement, name='Macs', max_os_version='15')['changed'] is False


@pytest.mark.parametrize('args, message', [
    (dict(platforms=['macOS']), 'os_version or max_os_version is required'),
    (dict(os_version='14.6', local_datetime='2024-07-01T09:00'), 'platforms is required'),
    (dict(platforms=['macOS'], os_version='14.6'), 'local_datetime: required'),
    (dict(platforms=['macOS'], os_version='14.6', max_os_version='15'), 'cannot be both set'),
    (dict(platforms=['macOS'], os_version='14.6', local_datetime='2024-07-01T09:00', delay_days=3), 'two modes'),
    (dict(platforms=['macOS'], max_os_version='15', local_time='25:00'), 'not a time of day'),
    (dict(platforms=['macOS'], os_version='14.6', local_datetime='2024-07-01T09:00+02:00'), 'without an offset'),
    (dict(platforms=['Linux'], max_os_version='15'), 'unknown Linux'),
    (dict(platforms=['macOS'], max_os_version='15', tags=['nope']), "no tag named 'nope'"),
])
def test_errors_before_anything_is_written(fake_api, run_module, args, message):
    result = run_module(software_update_enforcement, name='X', **args)
    assert result['failed'] is True and message in result['msg']
    assert not fake_api.calls_to('POST', r'.')


def test_what_only_the_server_checks_is_its_field_error(fake_api, run_module):
    result = run_module(software_update_enforcement, name='X', platforms=['macOS'], max_os_version='ABC')
    assert result['status'] == 400 and result['errors'] == {'max_os_version': ['Not a valid OS version']}


def test_check_mode_names_a_tag_an_earlier_task_would_create(fake_api, run_module):
    checked = run_module(software_update_enforcement, check_mode=True, diff=True, **ONE_TIME)
    assert checked['changed'] is True and checked['diff']['after']['tags'] == ['pilot']
    assert "no tag named 'pilot' yet" in str(checked.get('warnings'))
