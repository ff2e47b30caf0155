# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import json

import pytest

from ansible_collections.espalier.mdm.plugins.modules import ota_enrollment, ota_enrollment_info


@pytest.fixture
def push(fake_api):
    return fake_api.add_push_certificate('Production')


def test_creates_an_enrollment_and_returns_its_url(fake_api, run_module, push):
    result = run_module(ota_enrollment, name='Staff', push_certificate=push['id'], reusable=True, quota=50, diff=True)
    assert result['changed'] is True
    created = result['ota_enrollment']
    assert created['enroll_url'] == '%s/public/enroll/%s/' % (fake_api.base_url, created['secret'])
    assert fake_api.calls_to('POST', r'/ota_enrollments/$')[0][3] == dict(
        name='Staff', push_certificate=push['id'], reusable=True, quota=50)
    assert result['diff'] == dict(before=dict(state='absent'),
                                  after=dict(state='present', name='Staff', push_certificate=push['id'],
                                             reusable=True, quota=50))


def test_second_run_changes_nothing(fake_api, run_module, push):
    args = dict(name='Staff', push_certificate='Production', display_name='Staff Macs', reusable=True)
    assert run_module(ota_enrollment, **args)['changed'] is True
    second = run_module(ota_enrollment, **args)
    assert second['changed'] is False
    assert len(fake_api.calls_to('POST', r'.')) == 1 and not fake_api.calls_to('PUT', r'.')


def test_check_mode_predicts_the_same_diff_and_writes_nothing(fake_api, run_module, push):
    args = dict(name='Staff', push_certificate=push['id'], quota=10, diff=True)
    checked = run_module(ota_enrollment, check_mode=True, **args)
    assert not fake_api.ota_enrollments
    applied = run_module(ota_enrollment, **args)
    assert checked['changed'] is applied['changed'] is True
    assert checked['diff'] == applied['diff']
    update = dict(args, quota=0, reusable=True)
    checked = run_module(ota_enrollment, check_mode=True, **update)
    assert fake_api.ota_enrollments[applied['ota_enrollment']['id']]['quota'] == 10
    applied = run_module(ota_enrollment, **update)
    assert checked['diff'] == applied['diff'] == dict(
        before=dict(name='Staff', push_certificate=push['id'], quota=10, reusable=False),
        after=dict(name='Staff', push_certificate=push['id'], quota=None, reusable=True))
    assert checked['ota_enrollment']['quota'] is None


def test_updates_only_what_differs(fake_api, run_module, push):
    existing = fake_api.add_ota_enrollment('Staff', push_certificate=push['id'], quota=5)
    result = run_module(ota_enrollment, name='Staff', push_certificate=push['id'], quota=8, blueprint=0)
    assert result['changed'] is True
    assert fake_api.calls_to('PUT', r'/ota_enrollments/%d/$' % existing['id'])[0][3] == dict(quota=8)
    assert result['ota_enrollment']['secret'] == existing['secret']


def test_the_scep_challenge_is_sent_on_creation_only_unless_always(fake_api, run_module, push):
    args = dict(name='Lab', push_certificate=push['id'], identity_source='external',
                scep_url='https://scep.example.com/scep', scep_challenge='hunter2-challenge')
    first = run_module(ota_enrollment, **args)
    assert fake_api.calls_to('POST', r'.')[0][3]['scep_challenge'] == 'hunter2-challenge'
    assert run_module(ota_enrollment, **args)['changed'] is False
    always = run_module(ota_enrollment, update_scep_challenge='always', diff=True, **args)
    assert always['changed'] is True
    assert fake_api.calls_to('PUT', r'.')[0][3] == dict(scep_challenge='hunter2-challenge')
    for result in (first, always):
        assert 'hunter2-challenge' not in json.dumps(result)


def test_absent_deletes_and_then_is_absent(fake_api, run_module, push):
    existing = fake_api.add_ota_enrollment('Pilot', push_certificate=push['id'])
    checked = run_module(ota_enrollment, name='Pilot', state='absent', check_mode=True, diff=True)
    assert checked['changed'] is True and existing['id'] in fake_api.ota_enrollments
    deleted = run_module(ota_enrollment, name='Pilot', state='absent', diff=True)
    assert deleted['changed'] is True and not fake_api.ota_enrollments
    assert checked['diff'] == deleted['diff']
    assert deleted['diff']['after'] == dict(state='absent')
    assert run_module(ota_enrollment, name='Pilot', state='absent')['changed'] is False


def test_server_refusals_are_said_once(fake_api, run_module):
    result = run_module(ota_enrollment, name='Staff', push_certificate=99)
    assert result['failed'] is True
    assert result['msg'].endswith(': push_certificate: Invalid pk "99" - object does not exist.')
    assert result['msg'].count('Invalid pk') == 1


def test_an_unknown_push_certificate_name_fails(fake_api, run_module, push):
    result = run_module(ota_enrollment, name='Staff', push_certificate='Nope')
    assert result['msg'] == "push_certificate: no push certificate named 'Nope'"
    assert not fake_api.calls_to('POST', r'.')


def test_info_lists_by_name_and_id(fake_api, run_module, push):
    one = fake_api.add_ota_enrollment('One')
    two = fake_api.add_ota_enrollment('Two')
    assert [e['name'] for e in run_module(ota_enrollment_info)['ota_enrollments']] == ['One', 'Two']
    assert run_module(ota_enrollment_info, name='Two')['ota_enrollments'] == [two]
    assert run_module(ota_enrollment_info, id=one['id'])['ota_enrollments'] == [one]
    assert run_module(ota_enrollment_info, name='Three')['ota_enrollments'] == []
    assert run_module(ota_enrollment_info, id=999)['ota_enrollments'] == []


def test_attestation_is_declared_and_converged(fake_api, run_module, push):
    created = run_module(ota_enrollment, name='Lab', push_certificate=push['id'], attestation='none')
    assert created['changed'] is True and created['ota_enrollment']['attestation'] == 'none'
    assert fake_api.calls_to('POST', r'/ota_enrollments/$')[0][3]['attestation'] == 'none'
    assert run_module(ota_enrollment, name='Lab', push_certificate=push['id'], attestation='none')['changed'] is False
    changed = run_module(ota_enrollment, name='Lab', attestation='apple', diff=True)
    assert changed['changed'] is True
    assert changed['diff'] == dict(before=dict(name='Lab', attestation='none'), after=dict(name='Lab', attestation='apple'))
    assert fake_api.calls_to('PUT', r'/ota_enrollments/\d+/$')[0][3] == dict(attestation='apple')
