#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: software_update_enforcement_info
short_description: List the OS update enforcements of Espalier
version_added: 0.3.0
description:
  - Returns the software update enforcements of the server, every field the API gives, and C(tag_names), the names
    of its C(tags).
  - A selector that matches nothing returns an empty list, it does not fail.
author:
  - Espalier developers (@espalier-mdm)
options:
  id:
    description:
      - Id of one enforcement. Mutually exclusive with O(name).
    type: int
  name:
    description:
      - Name of one enforcement.
    type: str
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
notes:
  - Needs the permissions C(mdm.view_softwareupdateenforcement) and C(inventory.view_tag).
seealso:
  - module: espalier.mdm.software_update_enforcement
'''

EXAMPLES = r'''
- name: The macOS enforcement
  espalier.mdm.software_update_enforcement_info:
    name: macOS 14.6.1
  register: macos_update
'''

RETURN = r'''
software_update_enforcements:
  description: The enforcements, as M(espalier.mdm.software_update_enforcement) returns one, with C(tag_names).
  returned: always
  type: list
  elements: dict
  sample:
    - {id: 3, name: macOS 14.6.1, details_url: "", platforms: [macOS], tags: [4], tag_names: [pilot], os_version: "14.6.1",
       build_version: 23G93, local_datetime: "2024-06-30T18:00:00", max_os_version: "", delay_days: null, local_time: null}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.objects import (
    SOFTWARE_UPDATE_ENFORCEMENTS_PATH, TAGS_PATH, find_one,
)


def run(module, client):
    p = module.params
    found = find_one(client, SOFTWARE_UPDATE_ENFORCEMENTS_PATH, p['id'], p['name'])
    names = {t['id']: t['name'] for t in client.list_all(TAGS_PATH)} if any(o.get('tags') for o in found) else {}
    return dict(changed=False, software_update_enforcements=[
        dict(o, tag_names=[names.get(t, str(t)) for t in o.get('tags') or []]) for o in found])


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(id=dict(type='int'), name=dict(type='str')),
        mutually_exclusive=[('id', 'name')],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
