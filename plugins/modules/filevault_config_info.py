#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: filevault_config_info
short_description: List the FileVault configurations of Espalier
version_added: 0.3.0
description:
  - Returns the FileVault configurations of the server, every field the API gives.
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
  - Needs the permission C(mdm.view_filevaultconfig).
seealso:
  - module: espalier.mdm.filevault_config
'''

EXAMPLES = r'''
- name: The FileVault configuration of the staff Macs
  espalier.mdm.filevault_config_info:
    name: Staff FileVault
  register: staff_filevault
'''

RETURN = r'''
filevault_configs:
  description: The configurations, as M(espalier.mdm.filevault_config) returns one.
  returned: always
  type: list
  elements: dict
  sample:
    - {id: 1, name: Staff FileVault, escrow_location_display_name: Example IT, at_login_only: false, bypass_attempts: -1,
       show_recovery_key: false, destroy_key_on_standby: false, prk_rotation_interval_days: 0}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.objects import FILEVAULT_CONFIGS_PATH, find_one


def run(module, client):
    p = module.params
    return dict(changed=False, filevault_configs=find_one(client, FILEVAULT_CONFIGS_PATH, p['id'], p['name']))


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(id=dict(type='int'), name=dict(type='str')),
        mutually_exclusive=[('id', 'name')],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
