#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: device_facts
short_description: Facts about a device enrolled in Espalier
version_added: 0.2.0
description:
  - Reads one enrolled device and sets it as the fact C(espalier_device), every field as
    M(espalier.mdm.device_info) returns it.
  - Made for plays over the hosts of the P(espalier.mdm.devices#inventory) inventory, such as
    C(hosts=espalier_macOS), as a facts module of C(gather_facts) (C(ansible_facts_modules)), with the device
    given in C(module_defaults) from each host's variables. O(id) set to C(espalier_id) takes one API request;
    O(serial_number) set to C(inventory_hostname) works when the hosts are named by serial number. See the examples.
author:
  - Espalier developers (@espalier-mdm)
extends_documentation_fragment:
  - espalier.mdm.device
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.facts
  - espalier.mdm.attributes.action_group
seealso:
  - module: espalier.mdm.device_info
  - plugin: espalier.mdm.devices
    plugin_type: inventory
'''

EXAMPLES = r'''
# With an inventory of the espalier.mdm.devices plugin: gather_facts runs this module on each device host.
- name: Facts of every Mac
  hosts: espalier_macOS
  gather_facts: true
  vars:
    ansible_facts_modules: [espalier.mdm.device_facts]
  module_defaults:
    espalier.mdm.device_facts:
      id: "{{ espalier_id }}"
      url: "{{ espalier_url | default(omit) }}"
      token: "{{ espalier_token | default(omit) }}"
  tasks:
    - name: Macs still without FileVault
      ansible.builtin.debug:
        msg: "{{ inventory_hostname }}: FileVault is off"
      when: ansible_facts.espalier_device.filevault_enabled is false

# As a task, anywhere.
- name: Facts of one device by serial number
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the device into ansible_facts.espalier_device
      espalier.mdm.device_facts:
        serial_number: C02ABC123DEF
'''

RETURN = r'''
ansible_facts:
  description: The facts set.
  returned: success
  type: dict
  contains:
    espalier_device:
      description: The device, every field as M(espalier.mdm.device_info) returns it.
      returned: success
      type: dict
      sample:
        id: 27
        serial_number: "012345678910"
        platform: macOS
        os_version: 14.2.1
        filevault_enabled: true
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.devices import DEVICE_ARG_RULES, DEVICE_ARGSPEC, resolve_device


def run(module, client):
    return dict(changed=False, ansible_facts=dict(espalier_device=resolve_device(client, module.params)))


def main():
    module = AnsibleModule(argument_spec=api_argument_spec(**DEVICE_ARGSPEC), supports_check_mode=True,
                           **DEVICE_ARG_RULES)
    run_module(module, run)


if __name__ == '__main__':
    main()
