#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: recovery_password_info
short_description: Read the recovery lock or firmware password Espalier set on a device
version_added: 0.2.0
description:
  - Returns the recovery lock password (Apple silicon) or firmware password (Intel Macs) the server set
    on the device, decrypted by the server
    (C(GET /api/mdm/devices/<id>/recovery_password/)).
  - Needs a token with the permission C(mdm.view_recovery_password).
  - With O(id), one API request; with O(serial_number) or O(udid), the device is looked up first.
author:
  - Espalier developers (@espalier-mdm)
extends_documentation_fragment:
  - espalier.mdm.device
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.secrets
  - espalier.mdm.attributes.action_group
seealso:
  - module: espalier.mdm.device_info
'''

EXAMPLES = r'''
- name: Read the secret, never printing it
  espalier.mdm.recovery_password_info:
    serial_number: C02ABC123DEF
  no_log: true
  register: escrow

- name: Store it in the password manager
  ansible.builtin.copy:
    content: "{{ escrow.recovery_password }}"
    dest: /secure/escrow/C02ABC123DEF.txt
    mode: "0600"
  no_log: true
  when: escrow.escrowed
'''

RETURN = r'''
recovery_password:
  description:
    - The password, null when the server set none.
    - A secret. Set C(no_log) on the task (see the notes).
  returned: success
  type: str
  sample: w8Kp-3dXq-Zr7M
escrowed:
  description: Whether the server holds the secret.
  returned: success
  type: bool
  sample: true
device:
  description: Which device, by id and serial number (and platform when it was looked up by serial number or UDID).
  returned: success
  type: dict
  sample:
    id: 27
    serial_number: "012345678910"
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.devices import DEVICE_ARG_RULES, DEVICE_ARGSPEC
from ansible_collections.espalier.mdm.plugins.module_utils.secrets import read_secret


def run(module, client):
    return read_secret(client, module.params, 'recovery_password')


def main():
    module = AnsibleModule(argument_spec=api_argument_spec(**DEVICE_ARGSPEC), supports_check_mode=True,
                           **DEVICE_ARG_RULES)
    run_module(module, run)


if __name__ == '__main__':
    main()
