# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import datetime

from ansible_collections.espalier.mdm.plugins.modules import push_certificate_info
from ansible_collections.espalier.mdm.tests.unit.plugins import push_cert_fixtures as certs


def in_days(days):
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return (now + datetime.timedelta(days=days, hours=1)).replace(microsecond=0).isoformat()


def names(result):
    return [pc['name'] for pc in result['push_certificates']]


def test_lists_every_push_certificate_with_days_left(fake_api, run_module):
    fake_api.add_push_certificate('Production', certs.FIRST)
    fake_api.add_push_certificate('Staging', certs.OTHER, not_after=in_days(12))
    result = run_module(push_certificate_info)
    assert result['changed'] is False
    assert names(result) == ['Production', 'Staging']
    staging = result['push_certificates'][1]
    assert (staging['days_left'], staging['expiring'], staging['topic']) == (12, True, certs.TOPIC_B)


def test_one_by_name_topic_or_id(fake_api, run_module):
    fake_api.add_push_certificate('Production', certs.FIRST)
    staging = fake_api.add_push_certificate('Staging', certs.OTHER)
    assert names(run_module(push_certificate_info, name='Staging')) == ['Staging']
    assert names(run_module(push_certificate_info, topic=certs.TOPIC_A)) == ['Production']
    assert names(run_module(push_certificate_info, id=staging['id'])) == ['Staging']
    assert fake_api.calls_to('GET', r'/push_certificates/$')[0][2] == dict(name='Staging')


def test_nothing_found_is_an_empty_list(fake_api, run_module):
    assert run_module(push_certificate_info, name='Nope')['push_certificates'] == []
    assert run_module(push_certificate_info, id=999)['push_certificates'] == []


def test_expiring_within_days_keeps_the_ones_with_fewer_days_left_and_the_expired(fake_api, run_module):
    fake_api.add_push_certificate('Soon', certs.FIRST, not_after=in_days(10))
    fake_api.add_push_certificate('Later', certs.OTHER, not_after=in_days(45))
    fake_api.add_push_certificate('Expired', certs.RENEWED, not_after=in_days(-3))
    assert names(run_module(push_certificate_info, expiring_within_days=30)) == ['Soon', 'Expired']
    assert names(run_module(push_certificate_info, expiring_within_days=45)) == ['Soon', 'Expired']
    assert names(run_module(push_certificate_info, expiring_within_days=46)) == ['Soon', 'Later', 'Expired']
    assert names(run_module(push_certificate_info, expiring_within_days=0)) == ['Expired']
    assert run_module(push_certificate_info, name='Later', expiring_within_days=30)['push_certificates'] == []


def test_negative_days_fail_readably(fake_api, run_module):
    result = run_module(push_certificate_info, expiring_within_days=-1)
    assert result['failed'] is True
    assert result['msg'] == 'expiring_within_days must be 0 or more, not -1'


def test_check_mode_reads_the_same(fake_api, run_module):
    fake_api.add_push_certificate('Production', certs.FIRST)
    result = run_module(push_certificate_info, check_mode=True)
    assert result['changed'] is False
    assert names(result) == ['Production']


def test_selectors_are_mutually_exclusive(fake_api, run_module):
    result = run_module(push_certificate_info, name='a', topic='b')
    assert result['failed'] is True
    assert 'mutually exclusive' in result['msg']


def test_wrong_token_fails_with_the_hint(fake_api, run_module):
    result = run_module(push_certificate_info, token='wrong')
    assert result['failed'] is True and result['status'] == 401
    assert 'ESPALIER_TOKEN' in result['msg']
