#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: filevault_config
short_description: Declare a FileVault configuration of Espalier
version_added: 0.3.0
description:
  - Creates, updates or deletes a FileVault configuration, matched by O(name). A blueprint that points at it
    (M(espalier.mdm.blueprint) O(espalier.mdm.blueprint#module:filevault_config)) turns FileVault on on its Macs,
    and the Macs escrow their personal recovery key (PRK) with the server; M(espalier.mdm.filevault_prk_info) reads it.
  - Only the options the task sets are managed; a second run with the same options reports no change.
author:
  - Espalier developers (@espalier-mdm)
options:
  name:
    description:
      - Name of the configuration, unique on the server.
    type: str
    required: true
  escrow_location_display_name:
    description:
      - The organisation the Mac shows as holding the recovery key. Required to create the configuration.
    type: str
  at_login_only:
    description:
      - V(true) asks the user to turn FileVault on at login only, V(false) at login or logout.
    type: bool
  bypass_attempts:
    description:
      - With O(at_login_only=true), how many times the user may postpone (0 or more).
      - The server wants V(-1) when O(at_login_only=false); the module sends V(-1) then when this is not set.
    type: int
  show_recovery_key:
    description:
      - Whether the Mac shows the personal recovery key to the user when FileVault is turned on.
    type: bool
  destroy_key_on_standby:
    description:
      - Whether the FileVault key is removed from memory when the Mac goes to standby.
    type: bool
  prk_rotation_interval_days:
    description:
      - Days after a reveal of the personal recovery key after which the server rotates it (0 to 365, 0 never).
    type: int
  state:
    description:
      - V(present) creates or updates the configuration, V(absent) deletes it; the server refuses while a blueprint
        uses it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
notes:
  - Check mode compares the declared options with the configuration the server has; the server's own checks
    (O(bypass_attempts) against O(at_login_only), the range of O(prk_rotation_interval_days)) run when the task runs for
    real, except the O(bypass_attempts) rule, which the module checks first.
  - Needs the permissions C(mdm.view_filevaultconfig) and C(mdm.add_filevaultconfig), C(mdm.change_filevaultconfig) or
    C(mdm.delete_filevaultconfig).
seealso:
  - module: espalier.mdm.filevault_config_info
  - module: espalier.mdm.blueprint
  - module: espalier.mdm.filevault_prk_info
'''

EXAMPLES = r'''
- name: FileVault on the staff Macs, the key rotated 7 days after someone read it
  espalier.mdm.filevault_config:
    name: Staff FileVault
    escrow_location_display_name: Example IT
    at_login_only: true
    bypass_attempts: 2
    prk_rotation_interval_days: 7
'''

RETURN = r'''
filevault_config:
  description: The configuration after the task (predicted in check mode); empty after O(state=absent).
  returned: success
  type: dict
  sample: {id: 1, name: Staff FileVault, escrow_location_display_name: Example IT, at_login_only: true, bypass_attempts: 2,
           show_recovery_key: false, destroy_key_on_standby: false, prk_rotation_interval_days: 7,
           created_at: "2024-06-01T08:00:00", updated_at: "2024-06-01T08:00:00"}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError, api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.objects import (
    FILEVAULT_CONFIGS_PATH, ensure, ensure_absent, find_by_name,
)

FIELDS = ('name', 'escrow_location_display_name', 'at_login_only', 'bypass_attempts', 'show_recovery_key',
          'destroy_key_on_standby', 'prk_rotation_interval_days')


def desired_fields(p, current):
    desired = dict((k, p[k]) for k in FIELDS)
    desired['name'] = p['name'].strip()
    at_login_only = p['at_login_only'] if p['at_login_only'] is not None else (current or {}).get('at_login_only', False)
    bypass = p['bypass_attempts'] if p['bypass_attempts'] is not None else (current or {}).get('bypass_attempts', -1)
    # Zentral's rule, checked here so that check mode does not plan what the server refuses
    if at_login_only and bypass < 0:
        raise EspalierModuleError('bypass_attempts: must be >= 0 when at_login_only is true')
    if not at_login_only and bypass != -1:
        if p['bypass_attempts'] is not None:
            raise EspalierModuleError('bypass_attempts: must be -1 when at_login_only is false')
        desired['bypass_attempts'] = -1
    return desired


def run(module, client):
    p = module.params
    name = p['name'].strip()
    current = find_by_name(client, FILEVAULT_CONFIGS_PATH, name)
    if p['state'] == 'absent':
        result = ensure_absent(module, client, FILEVAULT_CONFIGS_PATH, current, 'FileVault configuration', name, FIELDS)
    else:
        if current is None and not p['escrow_location_display_name']:
            raise EspalierModuleError('escrow_location_display_name is required to create a FileVault configuration')
        result = ensure(module, client, FILEVAULT_CONFIGS_PATH, current, desired_fields(p, current),
                        'FileVault configuration', FIELDS)
    result['filevault_config'] = result.pop('object')
    return result


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            name=dict(type='str', required=True),
            escrow_location_display_name=dict(type='str'),
            at_login_only=dict(type='bool'),
            bypass_attempts=dict(type='int', no_log=False),
            show_recovery_key=dict(type='bool'),
            destroy_key_on_standby=dict(type='bool'),
            prk_rotation_interval_days=dict(type='int'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
