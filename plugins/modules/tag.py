#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: tag
short_description: Declare an inventory tag of Espalier
version_added: 0.3.0
description:
  - Creates, updates or deletes an inventory tag, matched by O(name). Tags scope blueprint artifacts
    (M(espalier.mdm.blueprint_artifact)); M(espalier.mdm.device) sets the tags of a device.
  - A second run with the same options reports no change.
author:
  - Espalier developers (@espalier-mdm)
options:
  name:
    description:
      - Name of the tag, unique on the server, at most 50 characters.
    type: str
    required: true
  color:
    description:
      - Colour of the tag, six hexadecimal digits (C(ff0000)). The server's default on creation when not set.
    type: str
  state:
    description:
      - V(present) creates or updates the tag, V(absent) deletes it (and removes it from every device).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
notes:
  - Needs the permissions C(inventory.view_tag) and C(inventory.add_tag), C(inventory.change_tag) or C(inventory.delete_tag).
seealso:
  - module: espalier.mdm.tag_info
  - module: espalier.mdm.device
'''

EXAMPLES = r'''
- name: A tag for the pilot group
  espalier.mdm.tag:
    name: pilot
    color: "00aa00"

- name: Retire it
  espalier.mdm.tag:
    name: pilot
    state: absent
'''

RETURN = r'''
tag:
  description: The tag after the task (predicted in check mode); empty after O(state=absent).
  returned: success
  type: dict
  sample: {id: 4, taxonomy: null, meta_business_unit: null, name: pilot, color: "00aa00"}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.objects import (
    TAGS_PATH, ensure, ensure_absent, find_by_name,
)


def run(module, client):
    p = module.params
    name = p['name'].strip()
    current = find_by_name(client, TAGS_PATH, name)
    if p['state'] == 'absent':
        result = ensure_absent(module, client, TAGS_PATH, current, 'tag', name, ('name', 'color'))
    else:
        color = p['color'].strip().lower() if p['color'] else None
        result = ensure(module, client, TAGS_PATH, current, dict(name=name, color=color), 'tag',
                        ('name', 'color', 'taxonomy', 'meta_business_unit'))
    result['tag'] = result.pop('object')
    return result


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            name=dict(type='str', required=True),
            color=dict(type='str'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
