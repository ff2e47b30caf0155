# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import email.utils

import pytest

from ansible_collections.espalier.mdm.plugins.module_utils import api
from ansible_collections.espalier.mdm.plugins.module_utils.api import (
    EspalierApiError, EspalierClient, EspalierModuleError, api_argument_spec, retry_after_seconds,
)
from ansible_collections.espalier.mdm.plugins.module_utils.transport import TransportError
from ansible_collections.espalier.mdm.tests.unit.plugins.fake_api import BASE_URL, TOKEN


@pytest.fixture
def client(fake_api):
    return EspalierClient(BASE_URL, TOKEN)


def test_sends_token_and_json_and_decodes_the_answer(fake_api, client):
    seen = []
    real = fake_api._route

    def spy(method, path, query, data, url):
        seen.append(url)
        return real(method, path, query, data, url)

    fake_api._route = spy
    device = fake_api.add_device()
    assert client.post('/api/mdm/devices/%d/block/' % device['id'])['blocked_at'] is not None
    assert fake_api.calls[-1][3] == {}
    assert seen == ['%s/api/mdm/devices/%d/block/' % (BASE_URL, device['id'])]


def test_base_url_with_a_path_prefix_is_kept(fake_api):
    client = EspalierClient('https://host.test/espalier/', TOKEN)
    assert client.url_for('api/mdm/devices/', dict(serial_number='A B', udid=None)) == \
        'https://host.test/espalier/api/mdm/devices/?serial_number=A+B'


def test_error_carries_status_url_detail_and_field_errors(fake_api, client):
    fake_api.inject(400, {'pin': ['Required.'], 'message': ['Too long.', 'Not text.']})  # DRF's field errors
    with pytest.raises(EspalierApiError) as info:
        client.post('api/mdm/devices/1/lock/', {})
    error = info.value
    assert (error.status, error.detail) == (400, 'message: Too long. Not text.; pin: Required.')
    assert error.errors == {'pin': ['Required.'], 'message': ['Too long.', 'Not text.']}
    assert error.url == BASE_URL + '/api/mdm/devices/1/lock/'
    assert str(error) == 'HTTP 400 from %s/api/mdm/devices/1/lock/: message: Too long. Not text.; pin: Required.' % BASE_URL


@pytest.mark.parametrize('body, detail', [
    ({'detail': 'Invalid target.'}, 'Invalid target.'),
    ({'non_field_errors': ['Give a serial_number or a udid.']}, 'Give a serial_number or a udid.'),
    (['first', 'second'], 'first; second'),
])
def test_drf_error_shapes_are_said_once(fake_api, client, body, detail):
    fake_api.inject(400, body)
    with pytest.raises(EspalierApiError) as info:
        client.get('api/mdm/devices/')
    assert info.value.detail == detail
    assert str(info.value).count(detail) == 1


def test_non_json_error_body_is_shown_trimmed(fake_api, client):
    fake_api.inject(500, '<html>' + 'x' * 1000)
    with pytest.raises(EspalierApiError) as info:
        client.get('api/mdm/devices/')
    assert info.value.status == 500
    assert info.value.detail.startswith('<html>xxx')
    assert len(info.value.detail) == 300


def test_the_token_never_appears_in_errors(fake_api, client):
    fake_api.inject(401, {'detail': 'Invalid token.'})
    with pytest.raises(EspalierApiError) as info:
        client.get('api/mdm/devices/')
    assert TOKEN not in str(info.value)


def test_retries_429_waiting_as_retry_after_says(fake_api, client, clock):
    fake_api.inject(429, {'detail': 'Throttled.'}, headers={'Retry-After': '7'})
    fake_api.inject(503, {'detail': 'Down.'}, headers={'retry-after': '2'})
    fake_api.add_device()
    assert len(client.get('api/mdm/devices/')) == 1
    assert clock.sleeps == [7.0, 2.0]


def test_retry_after_as_http_date(fake_api, client, clock):
    when = email.utils.formatdate(clock.now + 12, usegmt=True)
    fake_api.inject(503, {'detail': 'Down.'}, headers={'Retry-After': when})
    client.get('api/mdm/devices/')
    assert clock.sleeps == [pytest.approx(12, abs=1)]


def test_retry_wait_is_bounded(fake_api, clock):
    client = EspalierClient(BASE_URL, TOKEN, max_retry_wait=60)
    fake_api.inject(429, {'detail': 'Throttled.'}, headers={'Retry-After': '3600'})
    client.get('api/mdm/devices/')
    assert clock.sleeps == [60]


def test_without_retry_after_backs_off_exponentially_then_gives_up(fake_api, client, clock):
    fake_api.inject(502, 'Bad Gateway', times=10)
    with pytest.raises(EspalierApiError) as info:
        client.get('api/mdm/devices/')
    assert clock.sleeps == [1, 2, 4, 8]
    assert info.value.status == 502
    assert 'gave up after 4 retries' in str(info.value)


def test_post_is_retried_on_503_but_not_on_502(fake_api, client, clock):
    device = fake_api.add_device()
    fake_api.inject(503, {'detail': 'Down.'}, headers={'Retry-After': '1'})
    client.post('api/mdm/devices/%d/block/' % device['id'])
    assert clock.sleeps == [1.0]
    fake_api.inject(502, 'Bad Gateway')
    with pytest.raises(EspalierApiError) as info:
        client.post('api/mdm/devices/%d/unblock/' % device['id'])
    assert info.value.status == 502
    assert clock.sleeps == [1.0]


@pytest.mark.parametrize('value, expected', [('0', 0), ('5', 5), (' 5 ', 5), ('-3', 0), ('soon', None), (None, None)])
def test_retry_after_seconds(value, expected):
    assert retry_after_seconds(value) == expected


def test_pagination_follows_next_across_pages(fake_api, client):
    fake_api.page_size_cap = 3
    for dummy in range(8):
        fake_api.add_device(platform='iOS')
    devices = client.list_all('api/mdm/devices/')
    assert [d['id'] for d in devices] == sorted(fake_api.devices)
    offsets = [c[2]['offset'] for c in fake_api.calls]
    assert offsets == ['0', '3', '6']
    assert all(c[2]['limit'] == '3' for c in fake_api.calls[1:])


def test_pagination_with_relative_next_and_filters(fake_api, client):
    pages = [
        dict(count=3, next='/api/mdm/devices/commands/?enrolled_device=5&limit=2&offset=2', previous=None,
             results=[{'id': 1}, {'id': 2}]),
        dict(count=3, next=None, previous='/x', results=[{'id': 3}]),
    ]
    fake_api._route = lambda method, path, query, data, url: fake_api._reply(200, pages.pop(0))
    assert [c['id'] for c in client.paginate('api/mdm/devices/commands/', dict(enrolled_device=5), 2)] == [1, 2, 3]
    assert fake_api.calls[0][2] == dict(enrolled_device='5', limit='2', offset='0')
    assert fake_api.calls[1][2] == dict(enrolled_device='5', limit='2', offset='2')


def test_pagination_accepts_a_plain_list(fake_api, client):
    fake_api.paginate = False
    fake_api.add_device()
    fake_api.add_device()
    assert len(client.list_all('api/mdm/devices/')) == 2
    assert len(fake_api.calls) == 1


def test_pagination_refuses_to_loop(fake_api, client):
    page = dict(count=9, next=BASE_URL + '/api/mdm/devices/?limit=500&offset=0', previous=None, results=[{}])
    fake_api._route = lambda method, path, query, data, url: fake_api._reply(200, page)
    with pytest.raises(EspalierApiError, match='loops back'):
        client.list_all('api/mdm/devices/')


def test_wait_task_polls_until_final(fake_api, client, clock):
    fake_api.tasks['t1'] = dict(id='t1', name='sync', status='PENDING')
    fake_api.task_script['t1'] = ['PENDING', 'STARTED', 'STARTED', 'FAILURE']
    assert client.wait_task('t1', timeout=60)['status'] == 'FAILURE'
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_wait_task_timeout(fake_api, client, clock):
    fake_api.tasks['t1'] = dict(id='t1', name='sync', status='STARTED')
    with pytest.raises(EspalierApiError, match='task t1 still not done after 20 seconds'):
        client.wait_task('t1', timeout=20)
    assert sum(clock.sleeps) == pytest.approx(20)


def test_missing_url_or_token_is_explained():
    with pytest.raises(EspalierModuleError, match='ESPALIER_URL'):
        EspalierClient(None, TOKEN)
    with pytest.raises(EspalierModuleError, match='ESPALIER_TOKEN'):
        EspalierClient(BASE_URL, '')


@pytest.mark.parametrize('url, base', [
    ('https://mdm.example.com', 'https://mdm.example.com/'),
    ('https://mdm.example.com/', 'https://mdm.example.com/'),
    ('https://mdm.example.com/api/', 'https://mdm.example.com/'),
    ('https://mdm.example.com/api', 'https://mdm.example.com/'),
    ('HTTPS://mdm.example.com/espalier/api/', 'https://mdm.example.com/espalier/'),
    ('  http://127.0.0.1:8000//  ', 'http://127.0.0.1:8000/'),
    ('https://mdm.example.com/apiary/', 'https://mdm.example.com/apiary/'),
])
def test_the_url_is_normalised(url, base):
    assert EspalierClient(url, TOKEN).base_url == base


def test_a_url_ending_in_api_reaches_the_api_once(fake_api):
    fake_api.add_device()
    EspalierClient(BASE_URL + '/api/', TOKEN).get('api/mdm/devices/')
    assert fake_api.calls[-1][1] == '/api/mdm/devices/'


@pytest.mark.parametrize('url', ['mdm.example.com', 'mdm.example.com/api/', 'ftp://mdm.example.com', 'https://',
                                 'https://mdm.example.com/?x=1'])
def test_a_url_without_http_scheme_is_refused_clearly(url):
    with pytest.raises(EspalierModuleError) as info:
        EspalierClient(url, TOKEN)
    assert 'https://mdm.example.com' in str(info.value)
    assert repr(url) in str(info.value)


@pytest.mark.parametrize('timeout', [0, -5, None, True])
def test_non_positive_timeouts_are_refused(timeout):
    with pytest.raises(EspalierModuleError, match='timeout must be a positive number of seconds'):
        EspalierClient(BASE_URL, TOKEN, timeout=timeout)


def test_a_non_positive_wait_timeout_is_refused_before_any_request(fake_api, client):
    with pytest.raises(EspalierModuleError, match='wait_timeout must be a positive number of seconds, not 0'):
        client.wait_task('t1', timeout=0)
    assert not fake_api.calls


def test_field_errors_the_detail_already_spells_out_are_not_repeated(fake_api, client):
    fake_api.inject(400, {'private_key': ['does not match the certificate']})
    with pytest.raises(EspalierApiError) as info:
        client.get('api/mdm/push_certificates/')
    assert str(info.value) == ('HTTP 400 from %s/api/mdm/push_certificates/: private_key: does not match the '
                               'certificate' % BASE_URL)
    assert str(info.value).count('does not match') == 1


def test_a_transport_failure_is_an_api_error_without_status(client):
    def down(method, url, headers, body):
        raise TransportError('cannot reach the server: Connection refused')

    client._transport = down
    with pytest.raises(EspalierApiError) as info:
        client.get('api/mdm/devices/')
    assert info.value.status is None
    assert str(info.value) == 'cannot reach the server: Connection refused (%s/api/mdm/devices/)' % BASE_URL


def test_argument_spec_is_shared_and_extended():
    spec = api_argument_spec(serial_number=dict(type='str'))
    assert spec['token']['no_log'] is True
    assert {name: option['fallback'][1] for name, option in spec.items() if 'fallback' in option} == dict(
        url=['ESPALIER_URL'], token=['ESPALIER_TOKEN'], validate_certs=['ESPALIER_VALIDATE_CERTS'],
        ca_path=['ESPALIER_CA_PATH'], timeout=['ESPALIER_TIMEOUT'])
    assert spec['serial_number'] == dict(type='str')
    spec['url']['required'] = False
    assert api.API_ARGSPEC['url']['required'] is True
