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
  - Hosts are grouped by platform (C(macOS)), OS major version (C(macOS_14)), model family
    (C(Macmini) for C(Macmini8,1)), blueprint (C(blueprint_1)) and blocked state (C(blocked)); see O(group_by).
  - Hosts get C(ansible_connection=local) and the controller's Python, so that tasks that target them
    run on the controller and talk to the API, not to the devices.
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
    type: str
    default: serial_number
    choices: [serial_number, udid, name, id]
  prefix:
    description:
      - Prefix of the host variable names made from the device fields.
    type: str
    default: espalier_
  group_by:
    description:
      - The groups to build. C(platform) gives C(macOS), C(iOS)...; C(os_major) gives C(macOS_14);
        C(model_family) gives C(Macmini); C(blueprint) gives C(blueprint_<id>); C(blocked) gives C(blocked).
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
# espalier.yml, with ESPALIER_URL and ESPALIER_TOKEN in the environment
plugin: espalier.mdm.devices

# espalier_devices.yml: the Macs not blocked, named by UDID, cached for an hour
plugin: espalier.mdm.devices
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
'''

import hashlib
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

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierApiError, EspalierClient
from ansible_collections.espalier.mdm.plugins.module_utils.devices import DEVICES_PATH

FILE_SUFFIXES = ('espalier.yml', 'espalier.yaml', 'espalier_devices.yml', 'espalier_devices.yaml')
_FAMILY_RE = re.compile(r'[\d,]+$')


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
    """Names of the groups a device belongs to."""
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


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = 'espalier.mdm.devices'

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(FILE_SUFFIXES)

    def _fetch_devices(self):
        client = EspalierClient(
            self.get_option('url'), self.get_option('token'),
            validate_certs=self.get_option('validate_certs'),
            ca_path=self.get_option('ca_path'),
            timeout=self.get_option('timeout'),
        )
        return client.list_all(DEVICES_PATH, page_size=self.get_option('page_size'))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)

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
            except EspalierApiError as ex:
                raise AnsibleError('espalier.mdm.devices: %s' % ex) from None
        if update_cache:
            self._cache[cache_key] = devices

        self._populate(devices)

    def _populate(self, devices):
        prefix = self.get_option('prefix')
        field = self.get_option('hostname_field')
        group_by = self.get_option('group_by')
        strict = self.get_option('strict')
        for device in devices:
            if not keep_device(device, self.get_option('blocked'), self.get_option('platforms'),
                               self.get_option('blueprints')):
                continue
            hostname = device.get(field)
            if hostname in (None, ''):
                self.display.warning('espalier.mdm.devices: skipping device id %s: no %s' % (device.get('id'), field))
                continue
            host = self.inventory.add_host(str(hostname))
            hostvars = {prefix + key: value for key, value in device.items()}
            hostvars[prefix + 'model_family'] = model_family(device.get('model'))
            hostvars[prefix + 'os_major'] = os_major(device.get('platform'), device.get('os_version'))
            hostvars[prefix + 'blocked'] = device.get('blocked_at') is not None
            for name, value in hostvars.items():
                # device names come from the devices themselves: never templates
                self.inventory.set_variable(host, name, untrusted(value) if untrusted else value)
            self.inventory.set_variable(host, 'ansible_connection', 'local')
            self.inventory.set_variable(host, 'ansible_python_interpreter',
                                        trust_as_template('{{ ansible_playbook_python }}'))
            for group in device_groups(device, group_by):
                group = self.inventory.add_group(self._sanitize_group_name(group))
                self.inventory.add_child(group, host)
            self._set_composite_vars(self.get_option('compose'), hostvars, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option('groups'), hostvars, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), hostvars, host, strict=strict)
