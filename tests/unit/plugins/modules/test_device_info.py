# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

from ansible_collections.espalier.mdm.plugins.module_utils.devices import DEVICE_FIELDS
from ansible_collections.espalier.mdm.plugins.modules import device_info
from ansible_collections.espalier.mdm.tests.unit.plugins.fake_api import OMIT


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
    assert result['devices'] == [wanted]
    assert set(result['devices'][0]) == set(DEVICE_FIELDS)
    assert fake_api.calls[0][2]['serial_number'] == 'C02ABC123DEF'


def test_by_udid_and_by_id(fake_api, run_module):
    device = fake_api.add_device(udid='AAAA-BBBB')
    assert run_module(device_info, udid='AAAA-BBBB')['devices'] == [device]
    assert run_module(device_info, id=device['id'])['devices'] == [device]


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
