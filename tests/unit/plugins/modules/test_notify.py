# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

from ansible_collections.espalier.mdm.plugins.modules import notify


def test_notifies_the_devices_given_by_id_serial_and_udid(fake_api, run_module):
    one, two, three = (fake_api.add_device() for dummy in range(3))
    result = run_module(notify, ids=[one['id']], serial_numbers=[two['serial_number'].lower()], udids=[three['udid']])
    assert result['changed'] is True
    assert result['devices'] == sorted([one['id'], two['id'], three['id']])
    assert fake_api.calls_to('POST', r'/notify/$')[0][3] == dict(devices=result['devices'])
    assert result['task_id'] in fake_api.tasks


def test_ids_alone_need_no_lookup(fake_api, run_module):
    result = run_module(notify, ids=[5, 3, 5])
    assert result['devices'] == [3, 5]
    assert [c[1] for c in fake_api.calls] == ['/api/mdm/devices/notify/']


def test_wait_returns_the_task(fake_api, run_module, clock):
    device = fake_api.add_device()
    original = fake_api._notify

    def scripted(data):
        answer = original(data)
        for task_id in fake_api.tasks:
            fake_api.task_script[task_id] = ['STARTED', 'SUCCESS']
        return answer

    fake_api._notify = scripted
    result = run_module(notify, ids=[device['id']], wait=True)
    assert result['task']['status'] == 'SUCCESS'


def test_a_failed_task_fails(fake_api, run_module, clock):
    original = fake_api._notify

    def failing(data):
        answer = original(data)
        for task in fake_api.tasks.values():
            task.update(status='FAILURE', error='APNs refused the certificate')
        return answer

    fake_api._notify = failing
    result = run_module(notify, ids=[1], wait=True)
    assert result['failed'] is True
    assert result['msg'].endswith('FAILURE: APNs refused the certificate')


def test_check_mode_sends_nothing(fake_api, run_module):
    device = fake_api.add_device()
    result = run_module(notify, serial_numbers=[device['serial_number']], check_mode=True)
    assert (result['changed'], result['devices'], result['task_id']) == (True, [device['id']], None)
    assert not fake_api.calls_to('POST', r'.')


def test_an_unknown_serial_fails_before_anything_is_sent(fake_api, run_module):
    result = run_module(notify, serial_numbers=['NOPE'])
    assert result['failed'] is True
    assert result['msg'] == 'no enrolled device with serial_number NOPE'
    assert not fake_api.calls_to('POST', r'.')
