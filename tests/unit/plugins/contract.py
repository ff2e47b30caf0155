# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""The API contract the collection relies on, as cases that run against any implementation.

Each case is a function of an ``api`` with two methods:

- ``api.device(kind)``: the id of a new enrolled device of one of the DEVICES kinds;
- ``api.call(method, path, query=None, body=None)``: ``(status, decoded JSON or None)``;
- ``api.vpp_token(name, uid)``: the content of a .vpptoken that Apple knows, for a location
  ``name`` of library ``uid`` (a fake Apps and Books service on the server's side).

The unit tests run every case against the in-memory fake (tests/unit/plugins/fake_api.py,
test_contract.py) and the server suite runs the same cases against the real server
(tests/server/api/test_collection_contract.py): when the server changes an answer the
modules depend on, the fake must change with it. Plain Python, no Ansible import.
"""

from __future__ import annotations

# Device kinds by the fields that decide the server's answers. reported_pin_required_for_erase is
# what the Mac reported (PINRequiredForEraseDevice); without it the server falls back to Zentral's
# rule (macOS, not Apple silicon, not Activation Lock manageable: no T2 chip).
DEVICES = dict(
    mac=dict(platform='macOS', apple_silicon=True, activation_lock_manageable=True),
    t1_mac=dict(platform='macOS', apple_silicon=False, activation_lock_manageable=False),
    t2_mac=dict(platform='macOS', apple_silicon=False, activation_lock_manageable=True),
    t2_mac_reporting_pin=dict(platform='macOS', apple_silicon=False, activation_lock_manageable=True,
                              reported_pin_required_for_erase=True),
    iphone=dict(platform='iOS', apple_silicon=None, activation_lock_manageable=True),
    user_enrolled_mac=dict(platform='macOS', apple_silicon=True, activation_lock_manageable=True,
                           user_enrollment=True),
)

DRY = {'dry_run': '1'}
REQUIRED = ['This field is required.']
PATTERN = ['This value does not match the required pattern.']
COMMAND_KEYS = {'id', 'uuid', 'enrolled_device', 'name', 'status', 'error_chain', 'created_at', 'request_hash'}


def _path(device_id, action):
    return '/api/mdm/devices/%d/%s/' % (device_id, action)


def _dry(api, device_id, action, body):
    return api.call('POST', _path(device_id, action), DRY, body)


def case_lock_pin_rules_come_from_the_server(api):
    mac = api.device('mac')
    assert _dry(api, mac, 'lock', {}) == (400, {'pin': REQUIRED})
    assert _dry(api, mac, 'lock', {'pin': 'abcdef'}) == (400, {'pin': PATTERN})
    assert _dry(api, mac, 'lock', {'pin': '12345'}) == (400, {'pin': PATTERN})
    status, body = _dry(api, mac, 'lock', {'pin': '012345'})
    assert status == 200 and body['dry_run'] is True
    assert set(body['command']) == {'name', 'enrolled_device', 'request_hash'}
    assert body['command']['name'] == 'DeviceLock' and body['command']['enrolled_device'] == mac


def case_a_dry_run_answers_the_same_400_as_apply_and_queues_nothing(api):
    mac = api.device('t1_mac')
    for query in (DRY, None):
        assert api.call('POST', _path(mac, 'erase'), query, {'pin': '!)='}) == (400, {'pin': PATTERN})
    assert _dry(api, mac, 'erase', {'pin': 'ABC123'})[0] == 200
    status, page = api.call('GET', '/api/mdm/devices/commands/', {'enrolled_device': mac, 'limit': 10})
    assert status == 200 and page['count'] == 0


def case_lock_fields_that_do_not_apply_are_ignored(api):
    iphone = api.device('iphone')
    with_pin = _dry(api, iphone, 'lock', {'pin': '123456', 'message': 'Lost'})
    without = _dry(api, iphone, 'lock', {'message': 'Lost'})
    assert with_pin[0] == without[0] == 200
    assert with_pin[1]['command']['request_hash'] == without[1]['command']['request_hash']
    assert _dry(api, iphone, 'lock', {'message': 'x' * 256}) == (
        400, {'message': ['Ensure this field has no more than 255 characters.']})
    assert _dry(api, api.device('user_enrolled_mac'), 'lock', {'pin': '123456'}) == (
        400, {'detail': 'Invalid target.'})


def case_erase_pin_rules_use_what_the_device_reported(api):
    assert _dry(api, api.device('mac'), 'erase', {})[0] == 200
    assert _dry(api, api.device('t2_mac'), 'erase', {})[0] == 200
    assert _dry(api, api.device('t1_mac'), 'erase', {}) == (400, {'pin': REQUIRED})
    assert _dry(api, api.device('t2_mac_reporting_pin'), 'erase', {}) == (400, {'pin': REQUIRED})
    assert _dry(api, api.device('t2_mac_reporting_pin'), 'erase', {'pin': 'Ab12Cd'})[0] == 200
    assert _dry(api, api.device('iphone'), 'erase', {}) == (
        400, {'disallow_proximity_setup': REQUIRED, 'preserve_data_plan': REQUIRED})
    status, device = api.call('GET', '/api/mdm/devices/%d/' % api.device('t1_mac'))
    assert status == 200 and device['pin_required_for_erase'] is True and device['pin_required_for_lock'] is True


def case_request_hash_names_the_request(api):
    mac = api.device('mac')
    one = _dry(api, mac, 'lock', {'pin': '111111'})[1]['command']['request_hash']
    assert _dry(api, mac, 'lock', {'pin': '111111'})[1]['command']['request_hash'] == one
    assert _dry(api, mac, 'lock', {'pin': 123456})[1]['command']['request_hash'] == \
        _dry(api, mac, 'lock', {'pin': '123456'})[1]['command']['request_hash']  # numbers read as text
    assert _dry(api, mac, 'lock', {'pin': '222222'})[1]['command']['request_hash'] != one
    status, queued = api.call('POST', _path(mac, 'lock'), None, {'pin': '111111'})
    assert status == 201 and COMMAND_KEYS <= set(queued) and queued['request_hash'] == one
    assert queued['status'] is None
    status, page = api.call('GET', '/api/mdm/devices/commands/',
                            {'enrolled_device': mac, 'request_hash': one, 'status': 'pending', 'limit': 10})
    assert status == 200 and [c['uuid'] for c in page['results']] == [queued['uuid']]


def case_cancel_withdraws_a_pending_command_once(api):
    mac = api.device('mac')
    queued = api.call('POST', _path(mac, 'lock'), None, {'pin': '111111'})[1]
    path = '/api/mdm/devices/commands/%s/cancel/' % queued['uuid']
    status, canceled = api.call('POST', path)
    assert status == 200 and canceled['status'] == 'Canceled' and canceled['uuid'] == queued['uuid']
    status, again = api.call('POST', path)
    assert status == 409 and set(again) == {'detail'}
    query = {'enrolled_device': mac, 'status': 'pending', 'limit': 10}
    status, page = api.call('GET', '/api/mdm/devices/commands/', query)
    assert page['count'] == 0
    assert api.call('POST', '/api/mdm/devices/commands/00000000-0000-4000-8000-000000000000/cancel/') == (
        404, {'detail': 'No DeviceCommand matches the given query.'})


def case_commands_route_names_unknown_commands(api):
    mac = api.device('mac')
    assert api.call('POST', _path(mac, 'commands'), DRY, {'name': 'Nope', 'arguments': {}}) == (
        400, {'name': ['"Nope" is not a valid choice.']})
    status, body = api.call('POST', _path(mac, 'commands'), DRY, {'name': 'DeviceInformation', 'arguments': {}})
    assert status == 200 and body['command']['name'] == 'DeviceInformation'


def case_errors_have_drf_shapes(api):
    assert api.call('GET', '/api/mdm/devices/999999/') == (404, {'detail': 'No EnrolledDevice matches the given query.'})
    mac = api.device('mac')
    assert api.call('POST', _path(mac, 'unblock')) == (400, {'detail': 'Device not blocked.'})
    status, blocked = api.call('POST', _path(mac, 'block'))
    assert status == 200 and blocked['blocked_at'] and blocked['released_at']
    assert api.call('POST', _path(mac, 'block')) == (400, {'detail': 'Device already blocked.'})


def case_release_frees_the_udid(api):
    mac = api.device('mac')
    status, device = api.call('GET', '/api/mdm/devices/%d/' % mac)
    assert status == 200 and device['released_at'] is None
    status, released = api.call('POST', _path(mac, 'release'))
    assert status == 200 and released['released_at'] and released['blocked_at'] is None
    assert api.call('POST', _path(mac, 'release'))[1]['released_at'] == released['released_at']  # idempotent


def case_blocked_serial_numbers(api):
    status, entry = api.call('POST', '/api/mdm/blocked_devices/', None, {'serial_number': 'c02new00001',
                                                                         'reason': 'stolen'})
    assert status == 201 and entry['serial_number'] == 'C02NEW00001' and entry['reason'] == 'stolen'
    assert set(entry) == {'id', 'serial_number', 'udid', 'reason', 'created_at'}
    assert api.call('POST', '/api/mdm/blocked_devices/', None, {'serial_number': 'C02NEW00001'}) == (200, entry)
    status, page = api.call('GET', '/api/mdm/blocked_devices/', {'serial_number': 'c02new00001', 'limit': 10})
    assert status == 200 and page['results'] == [entry]
    assert api.call('POST', '/api/mdm/blocked_devices/', None, {}) == (
        400, {'non_field_errors': ['Give a serial_number or a udid.']})
    assert api.call('DELETE', '/api/mdm/blocked_devices/%d/' % entry['id']) == (204, None)
    assert api.call('DELETE', '/api/mdm/blocked_devices/%d/' % entry['id']) == (
        404, {'detail': 'No BlockedDevice matches the given query.'})


def case_task_results_have_zentral_shape(api):
    assert api.call('GET', '/api/task_result/0b5e1c1e-0000-4000-8000-000000000000/') == (
        200, {'id': '0b5e1c1e-0000-4000-8000-000000000000', 'status': 'UNKNOWN', 'unready': True})
    status, ref = api.call('POST', '/api/mdm/devices/notify/', None, {'devices': [api.device('mac')]})
    assert status == 201 and set(ref) == {'task_id', 'task_result_url'}
    status, task = api.call('GET', ref['task_result_url'])
    assert status == 200 and task['id'] == ref['task_id']
    assert task['status'] in ('PENDING', 'STARTED', 'SUCCESS', 'FAILURE')
    assert task['unready'] is (task['status'] in ('PENDING', 'STARTED'))


def case_token_info(api):
    status, info = api.call('GET', '/api/token_info/')
    assert status == 200 and set(info) == {'user', 'token_prefix', 'name', 'permissions', 'created_at'}
    assert isinstance(info['permissions'], list) and all('.' in p for p in info['permissions'])


# -- FileVault, recovery password, OS update enforcements, declarations: the shapes the modules of
# filevault_config, recovery_password_config, software_update_enforcement, declaration and blueprint rely
# on; the server suite runs them too.

def _listed(answer):
    status, body = answer
    assert status == 200
    return body['results'] if isinstance(body, dict) else body


def case_filevault_configs_follow_zentral(api):
    status, config = api.call('POST', '/api/mdm/filevault_configs/', body={'name': 'FV', 'escrow_location_display_name': 'IT'})
    assert status == 201
    assert {k: config[k] for k in ('at_login_only', 'bypass_attempts', 'show_recovery_key', 'destroy_key_on_standby',
                                   'prk_rotation_interval_days')} == {
        'at_login_only': False, 'bypass_attempts': -1, 'show_recovery_key': False, 'destroy_key_on_standby': False,
        'prk_rotation_interval_days': 0}
    path = '/api/mdm/filevault_configs/%d/' % config['id']
    body = {'name': 'FV', 'escrow_location_display_name': 'IT', 'at_login_only': False, 'bypass_attempts': 1}
    assert api.call('PUT', path, body=body) == (400, {'bypass_attempts': ['Must be -1 when at_login_only is False']})
    assert [c['id'] for c in _listed(api.call('GET', '/api/mdm/filevault_configs/', {'name': 'FV'}))] == [config['id']]
    assert _listed(api.call('GET', '/api/mdm/filevault_configs/', {'name': 'nope'})) == []
    status, blueprint = api.call('POST', '/api/mdm/blueprints/', body={'name': 'FV blueprint', 'filevault_config': config['id']})
    assert status == 201 and blueprint['filevault_config'] == config['id']
    assert api.call('DELETE', path) == (400, ['This FileVault configuration cannot be deleted'])


def case_recovery_password_configs_follow_zentral(api):
    path = '/api/mdm/recovery_password_configs/'
    assert api.call('POST', path, body={'name': 'RP', 'dynamic_password': False}) == (
        400, {'static_password': ['Required when dynamic_password is false']})
    status, config = api.call('POST', path, body={'name': 'RP', 'dynamic_password': False, 'static_password': '12345678'})
    assert status == 201 and config['static_password'] in ('12345678', None)  # Zentral returns it; None: kept hidden
    assert set(config) >= {'id', 'name', 'dynamic_password', 'static_password', 'rotation_interval_days',
                           'rotate_firmware_password', 'created_at', 'updated_at'}
    status, dynamic = api.call('PUT', '%s%d/' % (path, config['id']), body={
        'name': 'RP', 'dynamic_password': True, 'rotation_interval_days': 17, 'rotate_firmware_password': True})
    assert status == 200 and dynamic['static_password'] is None and dynamic['rotation_interval_days'] == 17


def case_software_update_enforcements_write_times_with_seconds(api):
    path = '/api/mdm/software_update_enforcements/'
    status, one_time = api.call('POST', path, body={'name': 'One', 'platforms': ['macOS'], 'os_version': '14.1.1',
                                                    'local_datetime': '2023-11-28T09:30'})
    assert status == 201
    assert {k: one_time[k] for k in ('local_datetime', 'max_os_version', 'delay_days', 'local_time', 'build_version',
                                     'tags', 'details_url')} == {
        'local_datetime': '2023-11-28T09:30:00', 'max_os_version': '', 'delay_days': None, 'local_time': None,
        'build_version': '', 'tags': [], 'details_url': ''}
    status, latest = api.call('POST', path, body={'name': 'Latest', 'platforms': ['iOS'], 'max_os_version': '18',
                                                  'local_time': '11:11'})
    assert status == 201 and latest['delay_days'] == 14 and latest['local_time'] == '11:11:00'
    assert latest['os_version'] == '' and latest['local_datetime'] is None
    assert api.call('POST', path, body={'name': 'Both', 'platforms': ['macOS'], 'max_os_version': '15',
                                        'os_version': '14.1'}) == (
        400, {'non_field_errors': ['os_version and max_os_version cannot be both set']})
    assert api.call('POST', path, body={'name': 'Bad', 'platforms': ['macOS'], 'max_os_version': 'ABC'}) == (
        400, {'max_os_version': ['Not a valid OS version']})


def case_blueprints_have_the_config_fields(api):
    status, blueprint = api.call('POST', '/api/mdm/blueprints/', body={'name': 'Plain'})
    assert status == 201
    assert {k: blueprint[k] for k in ('filevault_config', 'recovery_password_config', 'software_update_enforcements',
                                      'legacy_profiles_via_ddm')} == {
        'filevault_config': None, 'recovery_password_config': None, 'software_update_enforcements': [],
        'legacy_profiles_via_ddm': True}


def case_declaration_versions_drop_the_server_token(api):
    status, artifact = api.call('POST', '/api/mdm/artifacts/', body={
        'name': 'Echo', 'type': 'Configuration', 'channel': 'Device', 'platforms': ['macOS', 'iOS']})
    assert status == 201
    source = {'Type': 'com.apple.configuration.management.test', 'Identifier': 'com.example.echo',
              'ServerToken': 'mine', 'Payload': {'Echo': 'hello'}}
    status, version = api.call('POST', '/api/mdm/declarations/', body={
        'artifact': artifact['id'], 'version': 1, 'macos': True, 'source': source})
    assert status == 201
    assert version['source'] == {k: v for k, v in source.items() if k != 'ServerToken'}
    assert version['type'] == source['Type'] and version['identifier'] == source['Identifier']
    assert version['server_token'] and version['server_token'] != 'mine'
    assert version['artifact'] == artifact['id'] and version['version'] == 1 and version['macos'] is True
    listed = [v for v in _listed(api.call('GET', '/api/mdm/declarations/')) if v['artifact'] == artifact['id']]
    assert [v['id'] for v in listed] == [version['id']]


LOCATION_KEYS = {'id', 'server_token_expiration_date', 'organization_name', 'name', 'country_code', 'library_uid',
                 'platform', 'website_url', 'mdm_info_id', 'created_at', 'updated_at', 'days_left', 'expiring'}


def case_location_upload_dry_run_then_unchanged(api):
    token = api.vpp_token('Paris', 'lib-contract-1')
    status, dry = api.call('POST', '/api/mdm/locations/', DRY, {'server_token': token})
    assert status == 200 and set(dry) == {'dry_run', 'action', 'changed', 'claimed_by', 'location'}
    assert (dry['dry_run'], dry['action'], dry['changed']) == (True, 'created', True)
    assert set(dry['location']) == LOCATION_KEYS and dry['location']['name'] == 'Paris'
    status, created = api.call('POST', '/api/mdm/locations/', None, {'server_token': token})
    assert status == 201 and set(created) == LOCATION_KEYS and created['library_uid'] == 'lib-contract-1'
    status, again = api.call('POST', '/api/mdm/locations/', DRY, {'server_token': token})
    expected = (200, 'unchanged', False, created['id'])
    assert (status, again['action'], again['changed'], again['location']['id']) == expected
    status, same = api.call('POST', '/api/mdm/locations/', None, {'server_token': token})
    assert status == 200 and same['id'] == created['id']
    status, listed = api.call('GET', '/api/mdm/locations/', {'name': 'Paris'})
    assert status == 200 and [loc['id'] for loc in listed] == [created['id']]
    assert api.call('GET', '/api/mdm/locations/%d/' % created['id']) == (200, listed[0])


def case_location_errors(api):
    status, body = api.call('POST', '/api/mdm/locations/', None, {'server_token': 'bm9wZQ=='})
    assert status == 400 and list(body) == ['server_token']
    assert api.call('GET', '/api/mdm/location_assets/', {'location_id': '999999'}) == (400, {'location_id': [
        'Select a valid choice. That choice is not one of the available choices.']})
    assert api.call('GET', '/api/mdm/location_assets/') == (200, [])


CASES = [value for name, value in sorted(globals().items()) if name.startswith('case_')]
