# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

from ansible_collections.espalier.mdm.plugins.modules import dep_device, dep_enrollment

ARGS = dict(name='Staff Macs', virtual_server='School', push_certificate='Production', is_supervised=True,
            is_mdm_removable=False, skip_setup_items=['Siri', 'AppleID'], macos_min_version='14.6')


def setup(fake_api):
    server = fake_api.add_dep_server('School')
    fake_api.add_push_certificate('Production')
    return server


def test_create_check_mode_then_real_then_idempotent(fake_api, run_module):
    server = setup(fake_api)
    checked = run_module(dep_enrollment, check_mode=True, diff=True, default=True, **ARGS)
    assert checked['changed'] is True and not fake_api.fleet.dep_enrollments
    created = run_module(dep_enrollment, diff=True, default=True, **ARGS)
    assert created['changed'] is True and created['diff']['before']['state'] == 'absent'
    assert created['diff']['after']['skip_setup_items'] == checked['diff']['after']['skip_setup_items']
    enrollment = created['dep_enrollment']
    assert enrollment['virtual_server'] == server['id'] and enrollment['profile_uuid']
    assert 'secret' not in enrollment and 'enroll_url' not in enrollment
    assert fake_api.dep_servers[server['id']]['default_enrollment'] == enrollment['id']
    again = run_module(dep_enrollment, default=True, **dict(ARGS, skip_setup_items=['AppleID', 'Siri']))
    assert again['changed'] is False
    assert not fake_api.calls_to('PUT', r'/dep_enrollments/')


def test_update_diff_default_cleared_and_absent(fake_api, run_module):
    server = setup(fake_api)
    first = run_module(dep_enrollment, default=True, **ARGS)['dep_enrollment']
    changed = run_module(dep_enrollment, diff=True, department='IT', default=False, **ARGS)
    assert changed['changed'] is True
    assert changed['diff']['before'] == dict(department='', default=True)
    assert changed['diff']['after'] == dict(department='IT', default=False)
    assert changed['dep_enrollment']['profile_uuid'] != first['profile_uuid']  # Apple holds the department
    assert fake_api.dep_servers[server['id']]['default_enrollment'] is None
    gone = run_module(dep_enrollment, name='Staff Macs', state='absent')
    assert gone['changed'] is True and not fake_api.fleet.dep_enrollments
    assert run_module(dep_enrollment, name='Staff Macs', state='absent')['changed'] is False


def test_the_server_refusals_reach_the_task(fake_api, run_module):
    setup(fake_api)
    result = run_module(dep_enrollment, **dict(ARGS, is_supervised=False))
    assert result['failed'] is True and 'is_mdm_removable' in result['msg']
    missing = run_module(dep_enrollment, name='New')
    assert missing['failed'] is True and 'virtual_server and push_certificate are required' in missing['msg']


def test_dep_device_assigns_once_and_disowns_once(fake_api, run_module):
    server = setup(fake_api)
    for serial in ('C02A', 'C02B'):
        fake_api.add_dep_device(server, serial)
    run_module(dep_enrollment, **ARGS)
    checked = run_module(dep_device, check_mode=True, serial_numbers=['C02A', 'C02B'], enrollment='Staff Macs')
    assert checked['changed'] is True and checked['assigned'] == ['C02A', 'C02B']
    assert not fake_api.calls_to('PUT', r'/dep/devices/')
    done = run_module(dep_device, diff=True, serial_numbers=['C02A', 'C02B'], enrollment='Staff Macs')
    assert done['changed'] is True and len(fake_api.calls_to('PUT', r'/dep/devices/')) == 2
    again = run_module(dep_device, serial_numbers=['C02B', 'C02A'], enrollment='Staff Macs')
    assert again['changed'] is False and again['assigned'] == []
    unknown = run_module(dep_device, serial_numbers=['NOPE'], enrollment='Staff Macs')
    assert unknown['failed'] is True and "no DEP device with serial number 'NOPE'" in unknown['msg']
    disowned = run_module(dep_device, serial_numbers=['C02A'], disown=True)
    assert disowned['changed'] is True and disowned['disowned'] == ['C02A']
    assert run_module(dep_device, serial_numbers=['C02A'], disown=True)['changed'] is False
    assert run_module(dep_device, serial_numbers=['C02A'])['failed'] is True
