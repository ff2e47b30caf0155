# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import pytest

from ansible_collections.espalier.mdm.plugins.module_utils import api
from ansible_collections.espalier.mdm.plugins.module_utils.devices import DEVICE_FIELDS
from ansible_collections.espalier.mdm.plugins.modules import device_info
from ansible_collections.espalier.mdm.tests.unit.plugins.fake_api import BASE_URL, OMIT


def test_lists_every_device_across_pages(fake_api, run_module):
    fake_api.page_size_cap = 2
    for dummy in range(5):
        fake_api.add_device()
    result = run_module(device_info)
    assert result['changed'] is False
    assert len(result['devices']) == 5
    assert len(fake_api.calls_to('GET', r'/api/mdm/devices/$')) == 3


def test_returns_every_field_of_one_device_by_serial(fake_api, run_module):
    fake_api.add_device()
    wanted = fake_api.add_device(serial_number='C02ABC123DEF')
    result = run_module(device_info, serial_number='C02ABC123DEF')
    assert result['devices'] == [fake_api.device_json(wanted)]
    assert set(result['devices'][0]) == set(DEVICE_FIELDS)
    assert fake_api.calls[0][2]['serial_number'] == 'C02ABC123DEF'


def test_by_udid_and_by_id(fake_api, run_module):
    device = fake_api.add_device(udid='AAAA-BBBB')
    assert run_module(device_info, udid='AAAA-BBBB')['devices'] == [fake_api.device_json(device)]
    assert run_module(device_info, id=device['id'])['devices'] == [fake_api.device_json(device)]


def test_unknown_device_is_an_empty_list_not_a_failure(fake_api, run_module):
    assert run_module(device_info, serial_number='NOPE')['devices'] == []
    assert run_module(device_info, id=999)['devices'] == []


def test_check_mode_reads_the_same(fake_api, run_module):
    fake_api.add_device()
    result = run_module(device_info, check_mode=True)
    assert result['changed'] is False
    assert len(result['devices']) == 1


def test_bad_token_fails_with_status_and_server_detail(fake_api, run_module):
    result = run_module(device_info, token='wrong')
    assert result['failed'] is True
    assert result['status'] == 401
    assert 'Invalid token.' in result['msg']
    assert 'ESPALIER_TOKEN' in result['msg']
    assert 'wrong' not in result['msg']


def test_url_and_token_from_environment(fake_api, run_module, monkeypatch):
    monkeypatch.setenv('ESPALIER_URL', 'https://env.example.test')
    monkeypatch.setenv('ESPALIER_TOKEN', 'secret-token')
    fake_api.add_device()
    result = run_module(device_info, url=OMIT, token=OMIT)
    assert len(result['devices']) == 1


def test_identifiers_are_mutually_exclusive(fake_api, run_module):
    result = run_module(device_info, id=1, serial_number='X')
    assert result['failed'] is True
    assert 'mutually exclusive' in result['msg']


def test_serial_numbers_and_udids_match_whatever_their_case(fake_api, run_module):
    mac = fake_api.add_device(serial_number='C02ABC', udid='2A7F9BCE-9B52-4073-BE21-E419C85068E9')
    phone = fake_api.add_device(serial_number='F17X', udid='a1b2c3d4e5f60718293a4b5c6d7e8f9012345678')
    assert [d['id'] for d in run_module(device_info, serial_number='c02abc')['devices']] == [mac['id']]
    assert [d['id'] for d in run_module(device_info, udid=mac['udid'].lower())['devices']] == [mac['id']]
    assert [d['id'] for d in run_module(device_info, udid=phone['udid'].upper())['devices']] == [phone['id']]
    calls = len(fake_api.calls)
    run_module(device_info, serial_number='C02ABC')
    assert len(fake_api.calls) == calls + 1  # spelled as stored: one request


def test_connection_settings_from_the_environment(fake_api, run_module, monkeypatch):
    seen = {}
    monkeypatch.setattr(api, 'UrllibTransport', lambda *args: seen.update(args=args) or fake_api)
    monkeypatch.setenv('ESPALIER_URL', BASE_URL + '/api/')
    monkeypatch.setenv('ESPALIER_VALIDATE_CERTS', 'false')
    monkeypatch.setenv('ESPALIER_CA_PATH', '/etc/espalier/ca.pem')
    monkeypatch.setenv('ESPALIER_TIMEOUT', '9')
    fake_api.add_device()
    result = run_module(device_info, url=OMIT)
    assert len(result['devices']) == 1
    assert seen['args'] == (False, '/etc/espalier/ca.pem', 9)
    assert fake_api.calls[-1][1] == '/api/mdm/devices/'


@pytest.mark.parametrize('args, message', [
    (dict(url='mdm.example.com'), "url must be the server's base URL with an http:// or https:// scheme"),
    (dict(timeout=0), 'timeout must be a positive number of seconds, not 0'),
])
def test_bad_connection_options_fail_clearly(fake_api, run_module, args, message):
    result = run_module(device_info, **args)
    assert result['failed'] is True
    assert result['msg'].startswith(message)
    assert not fake_api.calls
