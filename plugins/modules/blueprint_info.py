#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: blueprint_info
short_description: List the blueprints of Espalier
version_added: 0.3.0
description:
  - Returns the blueprints of the server, every field the API gives.
  - A selector that matches nothing returns an empty list, it does not fail.
author:
  - Espalier developers (@espalier-mdm)
options:
  id:
    description:
      - Id of one blueprint. Mutually exclusive with O(name).
    type: int
  name:
    description:
      - Name of one blueprint.
    type: str
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
notes:
  - Needs the permission C(mdm.view_blueprint).
seealso:
  - module: espalier.mdm.blueprint
'''

EXAMPLES = r'''
- name: The staff blueprint
  espalier.mdm.blueprint_info:
    name: Staff
  register: staff
'''

RETURN = r'''
blueprints:
  description: The blueprints, as M(espalier.mdm.blueprint) returns one.
  returned: always
  type: list
  elements: dict
  sample:
    - {id: 2, name: Staff, inventory_interval: 86400, collect_apps: 1, collect_certificates: 0, collect_profiles: 2}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.objects import BLUEPRINTS_PATH, find_by_name, object_path


def run(module, client):
    p = module.params
    if p['id'] is not None:
        found = [client.get_or_none(object_path(BLUEPRINTS_PATH, p['id']))]
    elif p['name'] is not None:
        found = [find_by_name(client, BLUEPRINTS_PATH, p['name'].strip())]
    else:
        found = client.list_all(BLUEPRINTS_PATH)
    return dict(changed=False, blueprints=[o for o in found if o])


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(id=dict(type='int'), name=dict(type='str')),
        mutually_exclusive=[('id', 'name')],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
