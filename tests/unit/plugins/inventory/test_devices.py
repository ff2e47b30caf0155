# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import pytest

from ansible.errors import AnsibleError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader

try:  # ansible-core >= 2.19: data tagging
    from ansible.template import is_trusted_as_template
except ImportError:  # older: what is not unsafe is a template
    from ansible.utils.unsafe_proxy import AnsibleUnsafe

    def is_trusted_as_template(value):
        return not isinstance(value, AnsibleUnsafe)

from ansible_collections.espalier.mdm.plugins.inventory.devices import model_family, os_major, unique_hostnames
from ansible_collections.espalier.mdm.plugins.module_utils import api
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
        lines = ['plugin: espalier.mdm.devices'] + config
        if not any(line.startswith('url:') for line in config):
            lines.append('url: %s' % BASE_URL)
        lines.append('token: %s' % TOKEN)
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
    for field, value in fake_api.device_json(fleet['mac']).items():
        assert hostvars['espalier_' + field] == value
    assert hostvars['espalier_model_family'] == 'Macmini'
    assert hostvars['espalier_os_major'] == 'macOS_14'
    assert hostvars['espalier_blocked'] is False
    assert hostvars['ansible_connection'] == 'local'
    assert hostvars['ansible_pipelining'] is True
    assert hostvars['ansible_python_interpreter'] == '{{ ansible_playbook_python }}'
    assert is_trusted_as_template(hostvars['ansible_python_interpreter'])


def test_device_values_are_never_templates(fake_api, fleet, parse):
    inventory = parse([])[0]
    assert not is_trusted_as_template(inventory.get_host('F17PHONE').vars['espalier_name'])


def test_groups_by_platform_os_major_model_family_blueprint_and_blocked(fake_api, fleet, parse):
    inventory = parse([])[0]
    assert _groups(inventory, 'C02MAC') == ['espalier_Macmini', 'espalier_blueprint_1', 'espalier_macOS',
                                            'espalier_macOS_14']
    assert _groups(inventory, 'C02OLD') == ['espalier_MacBookPro', 'espalier_blocked', 'espalier_macOS',
                                            'espalier_macOS_13']
    assert _groups(inventory, 'F17PHONE') == ['espalier_blueprint_2', 'espalier_iOS', 'espalier_iOS_17',
                                              'espalier_iPhone']


def test_group_by_can_be_narrowed_and_the_group_prefix_changed(fake_api, fleet, parse):
    assert _groups(parse(['group_by: [platform]'])[0], 'C02MAC') == ['espalier_macOS']
    assert _groups(parse(['group_by: [platform]', 'group_prefix: mdm_'])[0], 'C02MAC') == ['mdm_macOS']
    assert _groups(parse(['group_by: [platform]', "group_prefix: ''"])[0], 'C02MAC') == ['macOS']


def _twenty_devices_with_five_names(fake_api):
    for index in range(20):
        fake_api.add_device(serial_number='C02DEV%02d' % index, name='Mac %d' % (index % 5 if index < 8 else index))


def test_devices_sharing_a_name_become_distinct_hosts_suffixed_with_their_serial(fake_api, parse, monkeypatch):
    _twenty_devices_with_five_names(fake_api)
    inventory = parse(['hostname_field: name'])[0]
    assert len(inventory.hosts) == 20
    assert 'Mac 0_C02DEV00' in inventory.hosts and 'Mac 0_C02DEV05' in inventory.hosts
    assert 'Mac 4' in inventory.hosts and 'Mac 19' in inventory.hosts
    assert inventory.get_host('Mac 0_C02DEV05').vars['espalier_serial_number'] == 'C02DEV05'


def test_duplicate_names_do_not_depend_on_the_api_order(fake_api):
    _twenty_devices_with_five_names(fake_api)
    devices = list(fake_api.devices.values())

    def names(order):
        return [(name, device['id']) for name, device in unique_hostnames(order, 'name')[0]]

    assert names(devices) == names(list(reversed(devices)))


def test_names_differing_only_in_case_clash_and_shared_serials_fall_back_to_the_id(fake_api, parse):
    one = fake_api.add_device(serial_number='C02SAME', name='Lab Mac')
    two = fake_api.add_device(serial_number='C02SAME', name='lab mac')
    inventory = parse(['hostname_field: name'])[0]
    assert sorted(inventory.hosts) == sorted(['Lab Mac_%d' % one['id'], 'lab mac_%d' % two['id']])
    serials = parse([])[0]
    assert sorted(serials.hosts) == sorted(['C02SAME_%d' % one['id'], 'C02SAME_%d' % two['id']])


def test_duplicate_hostnames_fail_names_the_clash(fake_api, parse):
    _twenty_devices_with_five_names(fake_api)
    with pytest.raises(AnsibleError, match=r'several devices have the same name \(Mac 0: ids'):
        parse(['hostname_field: name', 'duplicate_hostnames: fail'])


def test_unknown_options_are_warned_about(fake_api, fleet, parse, monkeypatch):
    from ansible.utils.display import Display
    warnings = []
    monkeypatch.setattr(Display, 'warning', lambda self, msg, *args, **kwargs: warnings.append(msg))
    parse(['hostname_feild: name', 'group_by: [platform]'])
    assert len(warnings) == 1
    assert 'unknown option(s) hostname_feild' in warnings[0]


def test_connection_settings_are_handed_to_the_hosts(fake_api, fleet, parse, monkeypatch):
    monkeypatch.delenv('ESPALIER_TOKEN', raising=False)
    hostvars = parse(['timeout: 12'])[0].get_host('C02MAC').vars
    assert hostvars['espalier_url'] == BASE_URL
    assert hostvars['espalier_token'] == TOKEN
    assert hostvars['espalier_validate_certs'] is True
    assert hostvars['espalier_timeout'] == 12
    assert 'espalier_ca_path' not in hostvars


def test_a_token_from_the_environment_is_not_copied_to_the_hosts(fake_api, fleet, parse, monkeypatch):
    monkeypatch.setenv('ESPALIER_TOKEN', TOKEN)
    hostvars = parse([])[0].get_host('C02MAC').vars
    assert 'espalier_token' not in hostvars and hostvars['espalier_url'] == BASE_URL
    assert 'espalier_url' not in parse(['connection_vars: false'])[0].get_host('C02MAC').vars


def test_connection_settings_come_from_the_environment(fake_api, fleet, tmp_path, monkeypatch):
    monkeypatch.setenv('ESPALIER_URL', BASE_URL + '/api/')
    monkeypatch.setenv('ESPALIER_TOKEN', TOKEN)
    monkeypatch.setenv('ESPALIER_VALIDATE_CERTS', 'false')
    monkeypatch.setenv('ESPALIER_CA_PATH', '/etc/espalier/ca.pem')
    monkeypatch.setenv('ESPALIER_TIMEOUT', '7')
    seen = {}
    real = api.EspalierClient.from_options.__func__

    def spy(cls, options, **kwargs):
        seen.update(options)
        return real(cls, options, **kwargs)

    monkeypatch.setattr(api.EspalierClient, 'from_options', classmethod(spy))
    path = tmp_path / 'espalier.yml'
    path.write_text('plugin: espalier.mdm.devices\n')
    inventory = InventoryData()
    inventory_loader.get('espalier.mdm.devices').parse(inventory, DataLoader(), str(path), cache=False)
    assert seen == dict(url=BASE_URL + '/api/', token=TOKEN, validate_certs=False, ca_path='/etc/espalier/ca.pem',
                        timeout=7)
    assert sorted(inventory.hosts) == ['C02MAC', 'C02OLD', 'F17PHONE']


@pytest.mark.parametrize('config, message', [
    (['timeout: 0'], 'timeout must be a positive number of seconds'),
    (['url: mdm.example.com'], 'http:// or https:// scheme'),
])
def test_bad_connection_settings_fail_clearly(fake_api, fleet, parse, config, message):
    with pytest.raises(AnsibleError, match=message):
        parse(config)


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
