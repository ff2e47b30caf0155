#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: token_info
short_description: Who the Espalier API token is and what it may do
version_added: 0.2.0
description:
  - Reads C(GET /api/token_info/), the user, name and permissions of the token the task uses.
  - With O(permissions), fails unless the token holds every one of them, naming the missing ones, so a play
    (in check mode too) can stop before a task that the server would refuse with a 403.
author:
  - Espalier developers (@espalier-mdm)
options:
  permissions:
    description:
      - Permissions the token must hold, as the server names them, for example V(mdm.add_devicecommand) or
        V(mdm.change_enrolleddevice).
      - The task fails when any of them is missing; RV(missing_permissions) lists them either way.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
notes:
  - Any valid token may read its own information; no permission is needed.
seealso:
  - module: espalier.mdm.device_lock
'''

EXAMPLES = r'''
- name: Stop here unless the token may lock and erase devices
  espalier.mdm.token_info:
    permissions:
      - mdm.view_enrolleddevice
      - mdm.add_devicecommand
      - mdm.view_devicecommand
      - mdm.change_devicecommand

- name: Who am I
  espalier.mdm.token_info:
  register: me

- name: Show the user
  ansible.builtin.debug:
    msg: "{{ me.token.user }} may {{ me.token.permissions | join(', ') }}"
'''

RETURN = r'''
token:
  description: The token, as the server describes it (never its key).
  returned: success
  type: dict
  contains:
    user:
      description: User the token belongs to.
      type: str
      sample: ansible
    name:
      description: Name of the token.
      type: str
      sample: ci
    token_prefix:
      description: First characters of the key, to tell tokens apart.
      type: str
      sample: 3f9a1c0d
    permissions:
      description: Every permission the token holds.
      type: list
      elements: str
      sample: [mdm.add_devicecommand, mdm.view_enrolleddevice]
    created_at:
      description: When the token was made.
      type: str
      sample: "2024-01-01T00:00:00"
missing_permissions:
  description: The permissions of O(permissions) that the token does not hold.
  returned: success
  type: list
  elements: str
  sample: []
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module

TOKEN_INFO_PATH = 'api/token_info/'


def run(module, client):
    token = client.get(TOKEN_INFO_PATH)
    held = set(token.get('permissions') or [])
    missing = sorted(set(module.params['permissions']) - held)
    result = dict(changed=False, token=token, missing_permissions=missing)
    if missing:
        module.fail_json(msg="the token %s of user %s lacks %s: the server would answer 403"
                         % (token.get('token_prefix'), token.get('user'), ', '.join(missing)), **result)
    return result


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(permissions=dict(type='list', elements='str', default=[])),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
