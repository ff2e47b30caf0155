# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

from ansible_collections.espalier.mdm.plugins.modules import device_facts


def test_sets_the_device_as_a_fact(fake_api, run_module):
    mac = fake_api.add_device(serial_number='C02MAC')
    result = run_module(device_facts, serial_number='c02mac')
    assert result['changed'] is False
    assert result['ansible_facts']['espalier_device'] == fake_api.device_json(mac)


def test_by_id_is_one_request(fake_api, run_module):
    mac = fake_api.add_device(serial_number='C02MAC')
    result = run_module(device_facts, id=mac['id'], check_mode=True)
    assert result['ansible_facts']['espalier_device']['serial_number'] == 'C02MAC'
    assert len(fake_api.calls) == 1


def test_an_unknown_device_fails(fake_api, run_module):
    result = run_module(device_facts, serial_number='NOPE')
    assert result['failed'] is True
    assert result['msg'] == 'no enrolled device with serial_number NOPE'
