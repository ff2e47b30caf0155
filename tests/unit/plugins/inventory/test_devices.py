# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import pytest

from ansible.errors import AnsibleError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader
from ansible.template import is_trusted_as_template

from ansible_collections.espalier.mdm.plugins.inventory.devices import model_family, os_major
from ansible_collections.espalier.mdm.tests.unit.plugins.fake_api import BASE_URL, TOKEN


@pytest.fixture
def fleet(fake_api):
    return dict(
        mac=fake_api.add_device(serial_number='C02MAC', model='Macmini8,1', os_version='14.2.1', blueprint=1),
        blocked=fake_api.add_device(serial_number='C02OLD', model='MacBookPro16,1', os_version='13.6',
                                    blueprint=None, blocked_at='2024-01-01T00:00:00'),
        phone=fake_api.add_device(serial_number='F17PHONE', platform='iOS', model='iPhone14,2',
                                  os_version='17.4', blueprint=2, name='{{ lookup("pipe", "id") }}'),
    )


@pytest.fixture
def parse(tmp_path):
    def run(config, cache=False, plugin=None):
        path = tmp_path / 'espalier.yml'
        lines = ['plugin: espalier.mdm.devices', 'url: %s' % BASE_URL, 'token: %s' % TOKEN] + config
        path.write_text('\n'.join(lines) + '\n')
        plugin = plugin or inventory_loader.get('espalier.mdm.devices')
        inventory = InventoryData()
        plugin.parse(inventory, DataLoader(), str(path), cache=cache)
        if getattr(plugin, '_cache', None) is not None:
            plugin.update_cache_if_changed()  # as the inventory manager does after parse()
        return inventory, plugin

    return run


def _groups(inventory, host):
    return sorted(g.name for g in inventory.get_host(host).get_groups() if g.name not in ('all', 'ungrouped'))


def test_hosts_named_by_serial_with_every_field_as_prefixed_vars(fake_api, fleet, parse):
    inventory = parse([])[0]
    assert sorted(inventory.hosts) == ['C02MAC', 'C02OLD', 'F17PHONE']
    hostvars = inventory.get_host('C02MAC').vars
    for field, value in fleet['mac'].items():
        assert hostvars['espalier_' + field] == value
    assert hostvars['espalier_model_family'] == 'Macmini'
    assert hostvars['espalier_os_major'] == 'macOS_14'
    assert hostvars['espalier_blocked'] is False
    assert hostvars['ansible_connection'] == 'local'
    assert hostvars['ansible_python_interpreter'] == '{{ ansible_playbook_python }}'
    assert is_trusted_as_template(hostvars['ansible_python_interpreter'])


def test_device_values_are_never_templates(fake_api, fleet, parse):
    inventory = parse([])[0]
    assert not is_trusted_as_template(inventory.get_host('F17PHONE').vars['espalier_name'])


def test_groups_by_platform_os_major_model_family_blueprint_and_blocked(fake_api, fleet, parse):
    inventory = parse([])[0]
    assert _groups(inventory, 'C02MAC') == ['Macmini', 'blueprint_1', 'macOS', 'macOS_14']
    assert _groups(inventory, 'C02OLD') == ['MacBookPro', 'blocked', 'macOS', 'macOS_13']
    assert _groups(inventory, 'F17PHONE') == ['blueprint_2', 'iOS', 'iOS_17', 'iPhone']


def test_group_by_can_be_narrowed(fake_api, fleet, parse):
    inventory = parse(['group_by: [platform]'])[0]
    assert _groups(inventory, 'C02MAC') == ['macOS']


@pytest.mark.parametrize('config, hosts', [
    (['blocked: true'], ['C02OLD']),
    (['blocked: false'], ['C02MAC', 'F17PHONE']),
    (['platforms: [iOS]'], ['F17PHONE']),
    (['blueprints: [1, 2]'], ['C02MAC', 'F17PHONE']),
    (['platforms: [macOS]', 'blocked: false'], ['C02MAC']),
])
def test_filters(fake_api, fleet, parse, config, hosts):
    inventory = parse(config)[0]
    assert sorted(inventory.hosts) == hosts


def test_hostname_field_and_prefix(fake_api, fleet, parse):
    inventory = parse(['hostname_field: udid', 'prefix: mdm_'])[0]
    host = inventory.get_host(fleet['mac']['udid'])
    assert host.vars['mdm_serial_number'] == 'C02MAC'
    assert 'espalier_serial_number' not in host.vars


def test_constructed_compose_groups_and_keyed_groups(fake_api, fleet, parse):
    inventory = parse([
        'compose:',
        '  os_label: espalier_platform ~ " " ~ espalier_os_version',
        'groups:',
        '  no_filevault: not espalier_filevault_enabled',
        '  supervised_macs: espalier_supervised and espalier_platform == "macOS"',
        'keyed_groups:',
        '  - key: espalier_build_version',
        '    prefix: build',
    ])[0]
    assert inventory.get_host('C02MAC').vars['os_label'] == 'macOS 14.2.1'
    assert sorted(h.name for h in inventory.groups['supervised_macs'].get_hosts()) == ['C02MAC', 'C02OLD']
    assert 'no_filevault' not in inventory.groups
    assert 'build_23C71' in inventory.groups


def test_reads_every_page_500_at_a_time(fake_api, parse):
    for dummy in range(7):
        fake_api.add_device()
    fake_api.page_size_cap = 3
    inventory = parse([])[0]
    assert len(inventory.hosts) == 7
    calls = fake_api.calls_to('GET', r'/api/mdm/devices/$')
    assert [c[2]['offset'] for c in calls] == ['0', '3', '6']
    assert calls[0][2]['limit'] == '500'


def test_cache_is_used_on_the_next_run(fake_api, fleet, parse, tmp_path):
    config = ['cache: true', 'cache_plugin: ansible.builtin.jsonfile', 'cache_connection: %s' % (tmp_path / 'cache')]
    first, plugin = parse(config, cache=True)
    calls = len(fake_api.calls)
    fake_api.devices.clear()
    second = parse(config, cache=True, plugin=plugin)[0]
    assert len(fake_api.calls) == calls
    assert sorted(second.hosts) == sorted(first.hosts)
    refreshed = parse(config, cache=False, plugin=plugin)[0]
    assert len(refreshed.hosts) == 0


def test_api_errors_are_readable(fake_api, fleet, parse):
    fake_api.inject(403, {'detail': 'You do not have permission to perform this action.'})
    with pytest.raises(AnsibleError, match='HTTP 403 .*You do not have permission'):
        parse([])


def test_verify_file_wants_the_plugin_file_names(tmp_path):
    plugin = inventory_loader.get('espalier.mdm.devices')
    for name, ok in (('espalier.yml', True), ('prod.espalier.yaml', True), ('espalier_devices.yml', True),
                     ('hosts.yml', False)):
        path = tmp_path / name
        path.write_text('plugin: espalier.mdm.devices\n')
        assert plugin.verify_file(str(path)) is ok


@pytest.mark.parametrize('model, family', [('Macmini8,1', 'Macmini'), ('iPad13,18', 'iPad'),
                                           ('VirtualMac2,1', 'VirtualMac'), ('', None), (None, None)])
def test_model_family(model, family):
    assert model_family(model) == family


@pytest.mark.parametrize('platform, version, group', [('macOS', '14.2.1', 'macOS_14'), ('iOS', '17', 'iOS_17'),
                                                      ('macOS', None, None), ('macOS', 'beta', None)])
def test_os_major(platform, version, group):
    assert os_major(platform, version) == group
