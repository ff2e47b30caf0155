# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
name: devices
short_description: Devices enrolled in Espalier as inventory hosts
version_added: 0.1.0
description:
  - Reads the MDM enrolled devices of an Espalier server, page by page, and makes each one a host.
  - Every device field becomes a host variable named with O(prefix), for example C(espalier_os_version).
  - Hosts are grouped by platform (C(espalier_macOS)), OS major version (C(espalier_macOS_14)), model family
    (C(espalier_Macmini) for C(Macmini8,1)), blueprint (C(espalier_blueprint_1)) and blocked state
    (C(espalier_blocked)); see O(group_by) and O(group_prefix).
  - Hosts get C(ansible_connection=local), C(ansible_pipelining=true) and the controller's Python, so that
    tasks that target them run on the controller and talk to the API, not to the devices.
  - With O(connection_vars=true) (the default) every host also gets the inventory's connection settings as
    C(espalier_url), C(espalier_validate_certs), C(espalier_ca_path) and C(espalier_timeout), and
    C(espalier_token) when the token was not taken from E(ESPALIER_TOKEN) (modules read that variable themselves).
    Plays pass them to the modules once, with C(module_defaults) for C(group/espalier.mdm.all); see the examples.
  - Options this plugin does not know are reported with a warning (a misspelt option would otherwise be ignored).
  - The inventory file name must end in C(espalier.yml), C(espalier.yaml), C(espalier_devices.yml) or C(espalier_devices.yaml).
author:
  - Espalier developers (@espalier-mdm)
options:
  plugin:
    description: Marks this file as an inventory of this plugin.
    type: str
    required: true
    choices: [espalier.mdm.devices]
  hostname_field:
    description:
      - The device field used as inventory hostname. Devices with an empty value are skipped with a warning.
      - Several devices may share a name (or, after a re-enrollment, a serial number); see O(duplicate_hostnames).
    type: str
    default: serial_number
    choices: [serial_number, udid, name, id]
  duplicate_hostnames:
    description:
      - What to do when several devices have the same O(hostname_field) value (compared without case).
      - V(suffix) names each of them C(<value>_<serial number>), or C(<value>_<id>) when the serial
        numbers clash too, with a warning naming them. The names are the same on every run, whatever
        the order the API returns the devices in.
      - V(fail) stops with an error naming the devices that clash.
    type: str
    default: suffix
    choices: [suffix, fail]
  prefix:
    description:
      - Prefix of the host variable names made from the device fields.
    type: str
    default: espalier_
  group_prefix:
    description:
      - Prefix of the names of the groups this plugin makes (see O(group_by)).
      - Groups from O(keyed_groups) and O(groups) are named as they say.
    type: str
    default: espalier_
  connection_vars:
    description:
      - Whether to set the connection settings of this inventory as host variables
        C(espalier_url), C(espalier_token), C(espalier_validate_certs), C(espalier_ca_path) and
        C(espalier_timeout), for C(module_defaults) to hand on to the modules.
      - C(espalier_token) is set only when the token was not taken from E(ESPALIER_TOKEN).
    type: bool
    default: true
  group_by:
    description:
      - The groups to build, named with O(group_prefix). C(platform) gives C(espalier_macOS), C(espalier_iOS)...;
        C(os_major) gives C(espalier_macOS_14); C(model_family) gives C(espalier_Macmini); C(blueprint) gives
        C(espalier_blueprint_<id>); C(blocked) gives C(espalier_blocked).
    type: list
    elements: str
    default: [platform, os_major, model_family, blueprint, blocked]
    choices: [platform, os_major, model_family, blueprint, blocked]
  blocked:
    description:
      - V(true) for the blocked devices only, V(false) for the devices that are not blocked; all when unset.
    type: bool
  platforms:
    description:
      - Only the devices of these platforms.
    type: list
    elements: str
    choices: [macOS, iOS, iPadOS, tvOS, watchOS, visionOS]
  blueprints:
    description:
      - Only the devices assigned to one of these blueprint ids.
    type: list
    elements: int
  page_size:
    description:
      - How many devices to read per API request.
    type: int
    default: 500
extends_documentation_fragment:
  - espalier.mdm.api.plugins
  - constructed
  - inventory_cache
'''

EXAMPLES = r'''
# espalier.yml, with ESPALIER_URL and ESPALIER_TOKEN in the environment, is as short as:
#   plugin: espalier.mdm.devices
#
# espalier_devices.yml: the Macs not blocked, named by UDID, cached for an hour
plugin: espalier.mdm.devices
url: https://mdm.example.com
hostname_field: udid
platforms: [macOS]
blocked: false
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/espalier
cache_timeout: 3600
keyed_groups:
  - key: espalier_supervised
    prefix: supervised
compose:
  stale: espalier_last_seen_at < '2024-01-01'
groups:
  no_filevault: espalier_platform == 'macOS' and not espalier_filevault_enabled

# Hosts named by device name; a name several devices share fails the inventory instead of
# getting serial number suffixes:
#   hostname_field: name
#   duplicate_hostnames: fail
#
# A play over these hosts hands the inventory's connection to the modules once:
#
# - hosts: espalier_macOS
#   gather_facts: false
#   module_defaults:
#     group/espalier.mdm.all:
#       url: "{{ espalier_url }}"
#       token: "{{ espalier_token | default(omit) }}"
#       validate_certs: "{{ espalier_validate_certs }}"
#       ca_path: "{{ espalier_ca_path | default(omit) }}"
#       timeout: "{{ espalier_timeout }}"
#   tasks:
#     - name: Block the Macs not seen since 2024
#       espalier.mdm.device:
#         id: "{{ espalier_id }}"
#         blocked: true
#       when: espalier_last_seen_at < '2024-01-01'
'''

import hashlib
import os
import re

from ansible.errors import AnsibleError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

try:  # ansible-core >= 2.19: plugin values are not templates unless trusted
    from ansible.template import trust_as_template
    untrusted = None
except ImportError:  # older ansible-core templates every string: mark API data unsafe instead
    from ansible.utils.unsafe_proxy import wrap_var as untrusted

    def trust_as_template(value):
        return value

from ansible_collections.espalier.mdm.plugins.module_utils.api import CONNECTION_ENV, EspalierClient, EspalierError
from ansible_collections.espalier.mdm.plugins.module_utils.devices import DEVICES_PATH

FILE_SUFFIXES = ('espalier.yml', 'espalier.yaml', 'espalier_devices.yml', 'espalier_devices.yaml')
_FAMILY_RE = re.compile(r'[\d,]+$')
# The host variables that hand the inventory's connection settings to module_defaults.
CONNECTION_VAR = 'espalier_%s'


def model_family(model):
    """Macmini8,1 -> Macmini; iPad13,18 -> iPad."""
    if not model:
        return None
    return _FAMILY_RE.sub('', model) or None


def os_major(platform, os_version):
    """macOS 14.2.1 -> macOS_14."""
    if not platform or not os_version:
        return None
    major = str(os_version).split('.', 1)[0]
    return '%s_%s' % (platform, major) if major.isdigit() else None


def device_groups(device, group_by):
    """Names of the groups a device belongs to, without the group prefix."""
    groups = []
    if 'platform' in group_by and device.get('platform'):
        groups.append(device['platform'])
    if 'os_major' in group_by:
        groups.append(os_major(device.get('platform'), device.get('os_version')))
    if 'model_family' in group_by:
        groups.append(model_family(device.get('model')))
    if 'blueprint' in group_by and device.get('blueprint') is not None:
        groups.append('blueprint_%s' % device['blueprint'])
    if 'blocked' in group_by and device.get('blocked_at'):
        groups.append('blocked')
    return [g for g in groups if g]


def keep_device(device, blocked=None, platforms=None, blueprints=None):
    if blocked is not None and (device.get('blocked_at') is not None) != blocked:
        return False
    if platforms and device.get('platform') not in platforms:
        return False
    if blueprints and device.get('blueprint') not in blueprints:
        return False
    return True


def _key(value):
    return str(value).casefold()


def unique_hostnames(devices, field):
    """[(hostname, device)] and the clashes {value: [devices]}, names made unique as documented.

    Devices whose field values clash (without case) are named <value>_<serial number>, or
    <value>_<id> when their serial numbers clash as well; the result does not depend on the
    order of the devices.
    """
    by_value = {}
    for device in devices:
        by_value.setdefault(_key(device[field]), []).append(device)
    clashes = {group[0][field]: sorted(group, key=lambda d: d.get('id') or 0)
               for group in by_value.values() if len(group) > 1}
    named = []
    for device in sorted(devices, key=lambda d: d.get('id') or 0):
        value = str(device[field])
        group = by_value[_key(value)]
        if len(group) == 1:
            named.append((value, device))
            continue
        serials = [_key(d.get('serial_number') or '') for d in group]
        serial = device.get('serial_number')
        if field != 'serial_number' and serial and serials.count(_key(serial)) == 1:
            named.append(('%s_%s' % (value, serial), device))
        else:
            named.append(('%s_%s' % (value, device.get('id')), device))
    return named, clashes


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = 'espalier.mdm.devices'

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(FILE_SUFFIXES)

    def _connection_options(self):
        return {name: self.get_option(name) for name in CONNECTION_ENV}

    def _fetch_devices(self):
        client = EspalierClient.from_options(self._connection_options())
        return client.list_all(DEVICES_PATH, page_size=self.get_option('page_size'))

    def _warn_unknown_options(self, config, path):
        unknown = sorted(set(config or {}) - set(self.get_options()))
        if unknown:
            self.display.warning('espalier.mdm.devices: %s: unknown option(s) %s, ignored'
                                 % (path, ', '.join(unknown)))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        config = self._read_config_data(path)
        self._warn_unknown_options(config, path)

        # one cache entry per inventory file and server
        server = hashlib.sha256(str(self.get_option('url')).encode('utf-8')).hexdigest()[:12]
        cache_key = '%s_%s' % (self.get_cache_key(path), server)
        use_cache = self.get_option('cache') and cache
        update_cache = self.get_option('cache') and not cache
        devices = None
        if use_cache:
            try:
                devices = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if devices is None:
            try:
                devices = self._fetch_devices()
            except EspalierError as ex:
                raise AnsibleError('espalier.mdm.devices: %s' % ex) from None
        if update_cache:
            self._cache[cache_key] = devices

        self._populate(devices)

    def _kept_devices(self, devices):
        field = self.get_option('hostname_field')
        kept = []
        for device in devices:
            if not keep_device(device, self.get_option('blocked'), self.get_option('platforms'),
                               self.get_option('blueprints')):
                continue
            if device.get(field) in (None, ''):
                self.display.warning('espalier.mdm.devices: skipping device id %s: no %s' % (device.get('id'), field))
                continue
            kept.append(device)
        return kept

    def _hostnames(self, devices):
        field = self.get_option('hostname_field')
        named, clashes = unique_hostnames(devices, field)
        if clashes:
            described = '; '.join('%s: ids %s' % (value, ', '.join(str(d.get('id')) for d in group))
                                  for value, group in sorted(clashes.items(), key=lambda kv: _key(kv[0])))
            if self.get_option('duplicate_hostnames') == 'fail':
                raise AnsibleError('espalier.mdm.devices: several devices have the same %s (%s): use another '
                                   'hostname_field or duplicate_hostnames: suffix' % (field, described))
            self.display.warning('espalier.mdm.devices: several devices have the same %s, their host names get '
                                 'a suffix (%s)' % (field, described))
        return named

    def _connection_vars(self):
        if not self.get_option('connection_vars'):
            return {}
        options = self._connection_options()
        if options.get('token') and options['token'] == os.environ.get(CONNECTION_ENV['token']):
            del options['token']  # the modules read ESPALIER_TOKEN themselves
        return {CONNECTION_VAR % name: value for name, value in options.items() if value is not None}

    def _populate(self, devices):
        prefix = self.get_option('prefix')
        group_prefix = self.get_option('group_prefix') or ''
        group_by = self.get_option('group_by')
        strict = self.get_option('strict')
        connection_vars = self._connection_vars()
        for hostname, device in self._hostnames(self._kept_devices(devices)):
            host = self.inventory.add_host(hostname)
            hostvars = {prefix + key: value for key, value in device.items()}
            hostvars[prefix + 'model_family'] = model_family(device.get('model'))
            hostvars[prefix + 'os_major'] = os_major(device.get('platform'), device.get('os_version'))
            hostvars[prefix + 'blocked'] = device.get('blocked_at') is not None
            for name, value in hostvars.items():
                # device names come from the devices themselves: never templates
                self.inventory.set_variable(host, name, untrusted(value) if untrusted else value)
            for name, value in connection_vars.items():
                self.inventory.set_variable(host, name, untrusted(value) if untrusted else value)
            self.inventory.set_variable(host, 'ansible_connection', 'local')
            # one Python per task, fed on its stdin: no temporary files to write and remove
            self.inventory.set_variable(host, 'ansible_pipelining', True)
            self.inventory.set_variable(host, 'ansible_python_interpreter',
                                        trust_as_template('{{ ansible_playbook_python }}'))
            for group in device_groups(device, group_by):
                group = self.inventory.add_group(self._sanitize_group_name(group_prefix + group))
                self.inventory.add_child(group, host)
            self._set_composite_vars(self.get_option('compose'), hostvars, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option('groups'), hostvars, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), hostvars, host, strict=strict)
