# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import datetime

import pytest

import json

from ansible_collections.espalier.mdm.plugins.modules import push_certificate
from ansible_collections.espalier.mdm.tests.unit.plugins import push_cert_fixtures as certs
from ansible_collections.espalier.mdm.tests.unit.plugins.fake_api import OMIT

KEY = '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----'


def upload(run_module, pem, name='Production', check_mode=False, diff=False, **args):
    args.setdefault('private_key', KEY)
    return run_module(push_certificate, check_mode=check_mode, diff=diff, name=name, certificate=pem, **args)


def test_adds_a_certificate_whose_topic_and_name_are_new(fake_api, run_module):
    result = upload(run_module, certs.FIRST, private_key_password='pw', diff=True)
    assert result['changed'] is True
    pc = result['push_certificate']
    assert (pc['name'], pc['topic'], pc['not_after']) == ('Production', certs.TOPIC_A, '2040-03-01T10:00:00')
    assert pc['days_left'] > 4000
    posts = fake_api.calls_to('POST', r'/push_certificates/$')
    assert posts[0][3] == dict(name='Production', certificate=certs.FIRST, private_key=KEY, private_key_password='pw')
    assert result['diff']['before'] == dict(name=None, topic=None, not_before=None, not_after=None, fingerprint=None)
    assert result['diff']['after']['topic'] == certs.TOPIC_A
    assert result['diff']['after']['fingerprint'] == certs.EXPECTED['FIRST']['fingerprint']
    assert 'added' in result['msg']


def test_second_upload_of_the_same_certificate_writes_nothing(fake_api, run_module):
    assert upload(run_module, certs.FIRST)['changed'] is True
    result = upload(run_module, certs.FIRST)
    assert result['changed'] is False
    assert 'already has this certificate' in result['msg']
    assert len(fake_api.calls_to('POST', r'.')) == 1
    assert not fake_api.calls_to('PUT', r'.')


def test_same_certificate_with_other_whitespace_and_a_chain_is_no_change(fake_api, run_module):
    fake_api.add_push_certificate('Production', certs.FIRST)
    reformatted = certs.FIRST.replace('\n', '\r\n') + certs.CA
    assert upload(run_module, reformatted)['changed'] is False


def test_renews_the_certificate_with_the_same_topic_and_diffs_the_expiry(fake_api, run_module):
    old = fake_api.add_push_certificate('Production', certs.FIRST)
    result = upload(run_module, certs.RENEWED, diff=True)
    assert result['changed'] is True
    puts = fake_api.calls_to('PUT', r'/push_certificates/%d/$' % old['id'])
    assert len(puts) == 1 and puts[0][3]['certificate'] == certs.RENEWED
    assert not fake_api.calls_to('POST', r'.')
    assert result['push_certificate']['id'] == old['id']
    assert result['diff']['before']['not_after'] == '2040-03-01T10:00:00'
    assert result['diff']['after']['not_after'] == '2051-06-30T12:00:00'
    assert result['diff']['before']['topic'] == result['diff']['after']['topic'] == certs.TOPIC_A
    assert 'renewed' in result['msg']
    assert upload(run_module, certs.RENEWED)['changed'] is False


def test_a_renewal_is_matched_by_topic_and_takes_the_name(fake_api, run_module):
    old = fake_api.add_push_certificate('Old name', certs.FIRST)
    result = upload(run_module, certs.RENEWED, name='New name', diff=True)
    assert result['changed'] is True
    assert fake_api.push_certificates[old['id']]['name'] == 'New name'
    assert (result['diff']['before']['name'], result['diff']['after']['name']) == ('Old name', 'New name')


def test_a_certificate_with_another_topic_fails_with_the_explanation(fake_api, run_module):
    old = fake_api.add_push_certificate('Production', certs.FIRST)
    result = upload(run_module, certs.OTHER)
    assert result['failed'] is True
    assert certs.TOPIC_A in result['msg'] and certs.TOPIC_B in result['msg']
    assert 'created, not renewed' in result['msg']
    assert 'Renew, not Create a Certificate' in result['msg']
    assert "push certificate 'Production' (#%d" % old['id'] in result['msg']
    assert not fake_api.calls_to('POST', r'.') and not fake_api.calls_to('PUT', r'.')


def test_the_failure_names_the_certificate_that_has_the_new_topic(fake_api, run_module):
    fake_api.add_push_certificate('Production', certs.FIRST)
    other = fake_api.add_push_certificate('Staging', certs.OTHER)
    result = upload(run_module, certs.OTHER, name='Production')
    assert result['failed'] is True
    assert "to renew it, give its name" in result['msg']
    assert "'Staging' (#%d" % other['id'] in result['msg']


def test_check_mode_renewal_predicts_and_writes_nothing(fake_api, run_module):
    old = fake_api.add_push_certificate('Production', certs.FIRST)
    result = upload(run_module, certs.RENEWED, check_mode=True, diff=True)
    assert result['changed'] is True
    pc = result['push_certificate']
    assert (pc['id'], pc['not_after'], pc['expiring'], pc['status']) == (old['id'], '2051-06-30T12:00:00', False, 'ok')
    assert pc['days_left'] > 8000
    assert result['diff']['after']['not_after'] == '2051-06-30T12:00:00'
    assert '(check mode)' in result['msg']
    assert fake_api.push_certificates[old['id']]['not_after'] == '2040-03-01T10:00:00'
    assert not fake_api.calls_to('PUT', r'.') and not fake_api.calls_to('POST', r'.')


def test_check_mode_addition_has_no_id_and_posts_nothing(fake_api, run_module):
    result = upload(run_module, certs.OTHER, name='Staging', check_mode=True)
    assert result['changed'] is True
    assert result['push_certificate']['id'] is None
    assert result['push_certificate']['topic'] == certs.TOPIC_B
    assert not fake_api.calls_to('POST', r'.')
    assert not fake_api.push_certificates


def test_check_mode_of_a_topic_change_fails_as_the_real_run(fake_api, run_module):
    fake_api.add_push_certificate('Production', certs.FIRST)
    assert upload(run_module, certs.OTHER, check_mode=True)['failed'] is True


def test_not_a_pem_certificate_fails_before_any_call(fake_api, run_module):
    result = upload(run_module, 'MIIB...not a pem')
    assert result['failed'] is True
    assert result['msg'] == 'certificate is not a PEM certificate (no -----BEGIN CERTIFICATE----- block)'
    assert not fake_api.calls


def test_a_certificate_without_uid_is_not_a_push_certificate(fake_api, run_module):
    result = upload(run_module, certs.NO_UID)
    assert result['failed'] is True
    assert 'not an APNs push certificate' in result['msg']


def test_a_key_the_server_refuses_fails_with_the_field(fake_api, run_module):
    result = upload(run_module, certs.FIRST, private_key='WRONG KEY')
    assert result['failed'] is True
    assert result['status'] == 400
    assert 'private_key: does not match the certificate' in result['msg']


def test_the_private_key_and_its_password_never_show_in_the_result(fake_api, run_module):
    result = upload(run_module, certs.FIRST, private_key_password='hunter2-password')
    text = json.dumps(result)
    assert 'c2VjcmV0LWtleS1tYXRlcmlhbA' not in text
    assert 'hunter2-password' not in text


def test_a_blank_or_too_long_name_fails_before_any_call(fake_api, run_module):
    assert upload(run_module, certs.FIRST, name='  ')['msg'] == 'name must be 1 to 256 characters, not 0'
    assert upload(run_module, certs.FIRST, name='x' * 257)['msg'] == 'name must be 1 to 256 characters, not 257'
    assert not fake_api.calls


def test_name_is_required(fake_api, run_module):
    result = run_module(push_certificate, certificate=certs.FIRST, private_key=KEY, name=OMIT)
    assert result['failed'] is True
    assert 'missing required arguments: name' in result['msg']


def test_permission_error_says_so(fake_api, run_module):
    fake_api.inject(403, {'detail': 'You do not have permission to perform this action.'}, method='POST')
    result = upload(run_module, certs.FIRST)
    assert result['failed'] is True and result['status'] == 403
    assert 'lacks the permission' in result['msg']


@pytest.mark.parametrize('check_mode', [False, True])
def test_an_older_certificate_is_refused_unless_forced(fake_api, run_module, check_mode):
    """Before, renewing with an older download was accepted and cut the devices off sooner."""
    current = fake_api.add_push_certificate('Production', certs.RENEWED)
    result = upload(run_module, certs.FIRST, check_mode=check_mode)
    assert result['failed'] is True
    assert 'expires on 2040-03-01, before the current one (2051-06-30)' in result['msg']
    assert 'force: true' in result['msg']
    assert fake_api.push_certificates[current['id']]['not_after'] == '2051-06-30T12:00:00'
    forced = upload(run_module, certs.FIRST, check_mode=check_mode, force=True)
    assert forced['changed'] is True and forced['push_certificate']['not_after'] == '2040-03-01T10:00:00'
    if not check_mode:
        assert fake_api.calls_to('PUT', r'.')[-1][3]['force'] is True


def test_an_expired_certificate_is_refused_in_check_mode_too(fake_api, run_module, monkeypatch):
    fake_api.add_push_certificate('Production', certs.FIRST, not_after='2030-01-01T00:00:00')
    original = push_certificate.renewal_refusal
    monkeypatch.setattr(push_certificate, 'renewal_refusal',
                        lambda current, read, now=None: original(current, read, datetime.datetime(2052, 1, 1)))
    result = upload(run_module, certs.RENEWED, check_mode=True)
    assert result['failed'] is True and 'this certificate expired on 2051-06-30' in result['msg']
