# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import pytest

from ansible_collections.espalier.mdm.plugins.modules import device_command_info


@pytest.fixture
def queue(fake_api):
    mac = fake_api.add_device(serial_number='C02MAC')
    other = fake_api.add_device(serial_number='OTHER')
    fake_api.add_command(other, 'DeviceLock')
    return dict(
        mac=mac,
        lock=fake_api.add_command(mac, 'DeviceLock', status=None),
        notnow=fake_api.add_command(mac, 'InstallProfile', status='NotNow'),
        ack=fake_api.add_command(mac, 'DeviceInformation', status='Acknowledged'),
        err=fake_api.add_command(mac, 'InstallProfile', status='Error'),
    )


def test_queue_of_one_device_with_counts(fake_api, run_module, queue):
    result = run_module(device_command_info, serial_number='C02MAC')
    assert result['changed'] is False
    assert [c['uuid'] for c in result['commands']] == [queue[k]['uuid'] for k in ('lock', 'notnow', 'ack', 'err')]
    assert result['counts'] == dict(pending=2, acknowledged=1, error=1)
    assert fake_api.calls_to('GET', r'/commands/$')[0][2]['enrolled_device'] == str(queue['mac']['id'])


def test_filters_by_name_and_status(fake_api, run_module, queue):
    result = run_module(device_command_info, id=queue['mac']['id'], name='InstallProfile', status=['Error'])
    assert [c['uuid'] for c in result['commands']] == [queue['err']['uuid']]


def test_pending_means_not_answered_for_good_and_is_filtered_by_the_server(fake_api, run_module, queue):
    result = run_module(device_command_info, serial_number='C02MAC', status=['pending'])
    assert [c['uuid'] for c in result['commands']] == [queue['lock']['uuid'], queue['notnow']['uuid']]
    assert fake_api.calls_to('GET', r'/commands/$')[0][2]['status'] == 'pending'


def test_every_device_when_none_is_given(fake_api, run_module, queue):
    result = run_module(device_command_info, status=['Error', 'CommandFormatError'])
    assert [c['uuid'] for c in result['commands']] == [queue['err']['uuid']]
    assert 'enrolled_device' not in fake_api.calls_to('GET', r'/commands/$')[0][2]


def test_one_command_by_uuid(fake_api, run_module, queue):
    result = run_module(device_command_info, uuid=queue['ack']['uuid'])
    assert result['commands'] == [queue['ack']]


def test_unknown_uuid_fails_with_404(fake_api, run_module, queue):
    result = run_module(device_command_info, uuid='00000000-0000-0000-0000-000000000000')
    assert result['failed'] is True
    assert result['status'] == 404
