#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: recovery_password_config_info
short_description: List the recovery password configurations of Espalier
version_added: 0.3.0
description:
  - Returns the recovery password configurations of the server, every field the API gives but C(static_password),
    a secret; C(static_password_set) says whether the server returned one.
  - A selector that matches nothing returns an empty list, it does not fail.
author:
  - Espalier developers (@espalier-mdm)
options:
  id:
    description:
      - Id of one configuration. Mutually exclusive with O(name).
    type: int
  name:
    description:
      - Name of one configuration.
    type: str
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
notes:
  - Needs the permission C(mdm.view_recoverypasswordconfig).
seealso:
  - module: espalier.mdm.recovery_password_config
'''

EXAMPLES = r'''
- name: The recovery password configuration of the staff Macs
  espalier.mdm.recovery_password_config_info:
    name: Staff recovery lock
  register: staff_recovery
'''

RETURN = r'''
recovery_password_configs:
  description: The configurations, as M(espalier.mdm.recovery_password_config) returns one.
  returned: always
  type: list
  elements: dict
  sample:
    - {id: 1, name: Staff recovery lock, dynamic_password: true, static_password_set: false, rotation_interval_days: 90,
       rotate_firmware_password: true}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.objects import (
    RECOVERY_PASSWORD_CONFIGS_PATH, find_one, without_secret,
)


def run(module, client):
    p = module.params
    found = find_one(client, RECOVERY_PASSWORD_CONFIGS_PATH, p['id'], p['name'])
    return dict(changed=False, recovery_password_configs=[without_secret(o, 'static_password') for o in found])


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(id=dict(type='int'), name=dict(type='str')),
        mutually_exclusive=[('id', 'name')],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
