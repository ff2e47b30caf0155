# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

from ansible_collections.espalier.mdm.plugins.modules import device


def test_blocks_an_unblocked_device(fake_api, run_module):
    dev = fake_api.add_device(serial_number='C02ABC')
    result = run_module(device, serial_number='C02ABC', blocked=True, diff=True)
    assert result['changed'] is True
    assert result['device']['blocked_at'] == '2024-04-01T10:00:00.000000'
    assert result['diff'] == dict(before=dict(blocked=False, blocked_at=None),
                                  after=dict(blocked=True, blocked_at='2024-04-01T10:00:00.000000'))
    assert fake_api.devices[dev['id']]['blocked_at'] is not None
    assert len(fake_api.calls_to('POST', r'/block/$')) == 1
    assert 'blocked' in result['msg']


def test_blocking_a_blocked_device_is_not_a_change_and_posts_nothing(fake_api, run_module):
    fake_api.add_device(serial_number='C02ABC', blocked_at='2024-01-01T00:00:00')
    result = run_module(device, serial_number='C02ABC', blocked=True)
    assert result['changed'] is False
    assert 'already blocked' in result['msg']
    assert not fake_api.calls_to('POST', r'.')


def test_unblocks_by_id_and_second_run_is_not_a_change(fake_api, run_module):
    dev = fake_api.add_device(blocked_at='2024-01-01T00:00:00')
    assert run_module(device, id=dev['id'], blocked=False)['changed'] is True
    assert fake_api.devices[dev['id']]['blocked_at'] is None
    assert run_module(device, id=dev['id'], blocked=False)['changed'] is False
    assert len(fake_api.calls_to('POST', r'/unblock/$')) == 1


def test_check_mode_predicts_and_writes_nothing(fake_api, run_module):
    dev = fake_api.add_device(udid='UDID-X')
    result = run_module(device, udid='UDID-X', blocked=True, check_mode=True, diff=True)
    assert result['changed'] is True
    assert result['device']['blocked_at'] is not None
    assert result['diff']['before'] == dict(blocked=False, blocked_at=None)
    assert result['diff']['after']['blocked'] is True
    assert fake_api.devices[dev['id']]['blocked_at'] is None
    assert not fake_api.calls_to('POST', r'.')


def test_race_with_another_writer_does_not_surface_the_400(fake_api, run_module):
    dev = fake_api.add_device(serial_number='C02ABC')
    # Someone blocks it between our read and our write.
    fake_api.inject(400, {'detail': 'Device already blocked.'}, method='POST', path=r'/block/$')
    fake_api.devices[dev['id']]['blocked_at'] = None

    def block_after_read(*args, **kwargs):
        fake_api.devices[dev['id']]['blocked_at'] = '2024-04-02T00:00:00'

    original = fake_api._route

    def route(method, path, query, data, url):
        reply = original(method, path, query, data, url)
        if method == 'GET' and path == '/api/mdm/devices/':
            block_after_read()
        return reply

    fake_api._route = route
    result = run_module(device, serial_number='C02ABC', blocked=True)
    assert 'failed' not in result
    assert result['device']['blocked_at'] == '2024-04-02T00:00:00'


def test_an_unknown_id_fails_readably(fake_api, run_module):
    result = run_module(device, id=404, blocked=True)
    assert result['failed'] is True
    assert result['msg'] == 'no enrolled device with id 404'
    assert not fake_api.calls_to('POST', r'.')


def test_a_serial_number_is_blocked_before_it_enrolls(fake_api, run_module):
    result = run_module(device, serial_number='c02new1', blocked=True, reason='stolen', diff=True)
    assert result['changed'] is True
    assert result['device'] is None
    entry = result['blocked_device']
    assert (entry['serial_number'], entry['reason']) == ('C02NEW1', 'stolen')
    assert list(fake_api.blocked.values()) == [entry]
    assert result['diff'] == dict(before=dict(blocked=False, blocked_device=None),
                                  after=dict(blocked=True, blocked_device=entry))
    again = run_module(device, serial_number='C02NEW1', blocked=True)
    assert again['changed'] is False and again['blocked_device'] == entry
    assert 'already blocked before enrollment' in again['msg']
    assert len(fake_api.calls_to('POST', r'/blocked_devices/$')) == 1


def test_check_mode_predicts_a_block_before_enrollment(fake_api, run_module):
    result = run_module(device, udid='new-udid', blocked=True, check_mode=True)
    assert result['changed'] is True
    assert result['blocked_device']['udid'] == 'NEW-UDID'
    assert not fake_api.blocked and not fake_api.calls_to('POST', r'.')


def test_unblocking_before_enrollment_deletes_the_entry(fake_api, run_module):
    run_module(device, serial_number='C02NEW1', blocked=True)
    checked = run_module(device, serial_number='C02NEW1', blocked=False, check_mode=True)
    assert checked['changed'] is True and fake_api.blocked
    result = run_module(device, serial_number='C02NEW1', blocked=False)
    assert result['changed'] is True and not fake_api.blocked
    assert run_module(device, serial_number='C02NEW1', blocked=False)['changed'] is False


def test_releases_an_enrolled_device_once(fake_api, run_module):
    dev = fake_api.add_device(serial_number='C02ABC')
    checked = run_module(device, serial_number='C02ABC', released=True, check_mode=True, diff=True)
    assert checked['changed'] is True and checked['device']['released_at'] is not None
    assert checked['diff']['before'] == dict(released=False, released_at=None)
    assert fake_api.devices[dev['id']]['released_at'] is None
    result = run_module(device, serial_number='C02ABC', released=True, diff=True)
    assert result['changed'] is True
    assert result['device']['released_at'] is not None
    assert result['device']['released_at'] == fake_api.devices[dev['id']]['released_at']
    assert result['diff']['after']['released'] is True
    assert run_module(device, serial_number='C02ABC', released=True)['changed'] is False
    assert len(fake_api.calls_to('POST', r'/release/$')) == 1


def test_releasing_an_unknown_device_fails(fake_api, run_module):
    result = run_module(device, serial_number='NOPE', released=True)
    assert result['failed'] is True and result['msg'] == 'no enrolled device with serial_number NOPE'


def test_released_false_and_no_state_are_refused(fake_api, run_module):
    fake_api.add_device(serial_number='C02ABC')
    assert 'released: false is not a state' in run_module(device, serial_number='C02ABC', released=False)['msg']
    assert run_module(device, serial_number='C02ABC')['msg'] == 'one of blocked, released, blueprint and tags is required'


def test_ambiguous_serial_number_asks_for_udid(fake_api, run_module):
    fake_api.add_device(serial_number='DUP')
    fake_api.add_device(serial_number='DUP')
    result = run_module(device, serial_number='DUP', blocked=True)
    assert result['failed'] is True
    assert 'identify the device by udid or id' in result['msg']


def test_permission_error_shows_status_and_detail(fake_api, run_module):
    fake_api.add_device(serial_number='C02ABC')
    fake_api.inject(403, {'detail': 'You do not have permission to perform this action.'}, method='POST')
    result = run_module(device, serial_number='C02ABC', blocked=True)
    assert result['failed'] is True
    assert result['status'] == 403
    assert 'You do not have permission' in result['msg']


def test_one_identifier_is_required(fake_api, run_module):
    result = run_module(device, blocked=True)
    assert result['failed'] is True
    assert 'one of the following is required' in result['msg']


def test_device_blueprint_by_name_with_check_mode_and_second_run(fake_api, run_module):
    mac = fake_api.add_device(serial_number='C02ABC', blueprint=None)
    staff = fake_api.fleet.add('api/mdm/blueprints', name='Staff')
    checked = run_module(device, serial_number='C02ABC', blueprint='Staff', check_mode=True, diff=True)
    assert checked['changed'] is True and fake_api.devices[mac['id']]['blueprint'] is None
    applied = run_module(device, serial_number='C02ABC', blueprint='Staff', diff=True)
    assert applied['diff'] == checked['diff'] == dict(before=dict(blueprint=None), after=dict(blueprint=staff['id']))
    assert fake_api.calls_to('PATCH', r'/devices/%d/$' % mac['id'])[0][3] == dict(blueprint=staff['id'])
    assert run_module(device, serial_number='C02ABC', blueprint='Staff')['changed'] is False
    assert run_module(device, serial_number='C02ABC', blueprint='')['device']['blueprint'] is None
    assert "no blueprint named 'Nope'" in run_module(device, serial_number='C02ABC', blueprint='Nope')['msg']
    planned = run_module(device, serial_number='C02ABC', blueprint='Later', check_mode=True, diff=True)
    assert planned['changed'] is True and planned['diff']['after'] == dict(blueprint='Later')
    assert fake_api.devices[mac['id']]['blueprint'] is None


def test_device_tags_are_added_and_purged_by_name(fake_api, run_module):
    fake_api.add_device(serial_number='C02ABC')
    checked = run_module(device, serial_number='C02ABC', tags=['pilot', 'staff'], check_mode=True, diff=True)
    assert checked['device_tags'] == ['pilot', 'staff'] and not fake_api.calls_to('POST', r'machines/tags/$')
    applied = run_module(device, serial_number='C02ABC', tags=['pilot', 'staff'], diff=True)
    assert applied['diff'] == checked['diff'] == dict(before=dict(tags=[]), after=dict(tags=['pilot', 'staff']))
    assert run_module(device, serial_number='C02ABC', tags=['staff', 'pilot'])['changed'] is False
    kept = run_module(device, serial_number='C02ABC', tags=['kiosk'], purge_tags=False)
    assert kept['device_tags'] == ['kiosk', 'pilot', 'staff']
    purged = run_module(device, serial_number='C02ABC', tags=['kiosk'], diff=True)
    assert purged['device_tags'] == ['kiosk'] and purged['diff']['before']['tags'] == ['kiosk', 'pilot', 'staff']
    ops = fake_api.calls_to('POST', r'machines/tags/$')[-1][3]['operations']
    assert ops == [dict(kind='REMOVE', taxonomy=None, names=['pilot', 'staff'])]


def test_tags_need_an_enrolled_device(fake_api, run_module):
    result = run_module(device, serial_number='NOPE', tags=['pilot'])
    assert result['failed'] is True and result['msg'] == 'no enrolled device with serial_number NOPE'
