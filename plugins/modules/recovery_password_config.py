#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: recovery_password_config
short_description: Declare a recovery password configuration of Espalier
version_added: 0.3.0
description:
  - Creates, updates or deletes a recovery password configuration, matched by O(name). A blueprint that points at it
    (M(espalier.mdm.blueprint) O(espalier.mdm.blueprint#module:recovery_password_config)) has the server set a
    recovery lock password on its Apple silicon Macs and a firmware password on its Intel Macs;
    M(espalier.mdm.recovery_password_info) reads the password of a device.
  - Only the options the task sets are managed; a second run with the same options reports no change.
author:
  - Espalier developers (@espalier-mdm)
options:
  name:
    description:
      - Name of the configuration, unique on the server.
    type: str
    required: true
  dynamic_password:
    description:
      - V(true) (the server's default) for a random password per device, V(false) for O(static_password) on every device.
    type: bool
  static_password:
    description:
      - The password every device gets, with O(dynamic_password=false); required then to create the configuration or to
        switch it from dynamic to static.
      - A secret; it is never in the result, a diff or a message.
    type: str
  update_password:
    description:
      - V(always) compares O(static_password) with the one the server has and sets it when it differs. The server
        returns the password (as Zentral does) for this to be idempotent; when it does not, the module cannot compare
        it and sends it on every run, reporting a change, with a warning.
      - V(on_create) sets O(static_password) on creation and on a switch from a dynamic password only; an existing
        static password is left as it is, whatever O(static_password) says. When another option changes and the server
        does not return the current password, the declared one is sent with the update, as the server requires one.
    type: str
    choices: [always, on_create]
    default: always
  rotation_interval_days:
    description:
      - Days after which a dynamic password is rotated (0 to 365, 0 never). Not with a static password.
    type: int
  rotate_firmware_password:
    description:
      - Whether the firmware password of Intel Macs is rotated too; needs O(rotation_interval_days). Not with a static
        password.
    type: bool
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
  - Check mode compares the declared options with the configuration the server has, after the server's rules on
    combining the options (which the module checks first).
  - Needs the permissions C(mdm.view_recoverypasswordconfig) and C(mdm.add_recoverypasswordconfig),
    C(mdm.change_recoverypasswordconfig) or C(mdm.delete_recoverypasswordconfig).
seealso:
  - module: espalier.mdm.recovery_password_config_info
  - module: espalier.mdm.blueprint
  - module: espalier.mdm.recovery_password_info
'''

EXAMPLES = r'''
- name: A random recovery password per Mac, rotated every 90 days, firmware passwords too
  espalier.mdm.recovery_password_config:
    name: Staff recovery lock
    dynamic_password: true
    rotation_interval_days: 90
    rotate_firmware_password: true

- name: One password for the lab Macs, from the vault, set once
  espalier.mdm.recovery_password_config:
    name: Lab recovery lock
    dynamic_password: false
    static_password: "{{ vault_lab_recovery_password }}"
    update_password: on_create
'''

RETURN = r'''
recovery_password_config:
  description:
    - The configuration after the task (predicted in check mode); empty after O(state=absent).
    - Without C(static_password); C(static_password_set) says whether the server returned one.
  returned: success
  type: dict
  sample: {id: 1, name: Staff recovery lock, dynamic_password: true, static_password_set: false, rotation_interval_days: 90,
           rotate_firmware_password: true, created_at: "2024-06-01T08:00:00", updated_at: "2024-06-01T08:00:00"}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError, api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.objects import (
    RECOVERY_PASSWORD_CONFIGS_PATH, ensure, ensure_absent, find_by_name, without_secret,
)

FIELDS = ('name', 'dynamic_password', 'static_password', 'rotation_interval_days', 'rotate_firmware_password')
HIDDEN = '********'


def _effective(p, current, field, default):
    return p[field] if p[field] is not None else (current or {}).get(field, default)


def _check_rules(p, current, dynamic):
    """Zentral's rules on combining the options, checked before anything is written or planned."""
    rotation = _effective(p, current, 'rotation_interval_days', 0)
    rotate_firmware = _effective(p, current, 'rotate_firmware_password', False)
    if dynamic and p['static_password']:
        raise EspalierModuleError('static_password: cannot be set when dynamic_password is true')
    if not dynamic and (rotation or rotate_firmware):
        raise EspalierModuleError('rotation_interval_days and rotate_firmware_password cannot be set with a static password')
    if rotate_firmware and not rotation:
        raise EspalierModuleError('rotate_firmware_password: cannot be set without a rotation interval')


def desired_fields(module, current):
    """(desired, implied): the compared fields, and the password the update sends without comparing it."""
    p = module.params
    dynamic = _effective(p, current, 'dynamic_password', True)
    _check_rules(p, current, dynamic)
    desired = dict(name=p['name'].strip(), dynamic_password=p['dynamic_password'],
                   rotation_interval_days=p['rotation_interval_days'],
                   rotate_firmware_password=p['rotate_firmware_password'])
    if dynamic:
        return desired, dict(static_password=None)
    revealed = (current or {}).get('static_password') or None
    if current is None or current.get('dynamic_password', True):
        if not p['static_password']:
            raise EspalierModuleError('static_password: required when dynamic_password is false')
        desired['static_password'] = p['static_password']
        return desired, {}
    if p['static_password'] and p['update_password'] == 'always':
        if revealed is None:
            module.warn('the server does not return the static password, so it cannot be compared: it is sent on '
                        'every run (use update_password=on_create to set it once)')
        desired['static_password'] = p['static_password']
        return desired, {}
    return desired, dict(static_password=revealed or p['static_password'])


def _mask(diff):
    for side in ('before', 'after'):
        if 'static_password' in diff.get(side, {}):
            diff[side]['static_password'] = HIDDEN if diff[side]['static_password'] else None
    return diff


def run(module, client):
    p = module.params
    name = p['name'].strip()
    current = find_by_name(client, RECOVERY_PASSWORD_CONFIGS_PATH, name)
    what = 'recovery password configuration'
    if p['state'] == 'absent':
        result = ensure_absent(module, client, RECOVERY_PASSWORD_CONFIGS_PATH, current, what, name,
                               ('name', 'dynamic_password', 'rotation_interval_days', 'rotate_firmware_password'))
    else:
        desired, implied = desired_fields(module, current)
        result = ensure(module, client, RECOVERY_PASSWORD_CONFIGS_PATH, current, desired, what, FIELDS, implied=implied)
        if 'diff' in result:
            result['diff'] = _mask(result['diff'])
    result['recovery_password_config'] = without_secret(result.pop('object'), 'static_password')
    return result


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            name=dict(type='str', required=True),
            dynamic_password=dict(type='bool', no_log=False),
            static_password=dict(type='str', no_log=True),
            update_password=dict(type='str', choices=['always', 'on_create'], default='always', no_log=False),
            rotation_interval_days=dict(type='int'),
            rotate_firmware_password=dict(type='bool', no_log=False),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
