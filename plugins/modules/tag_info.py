#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: tag_info
short_description: List the tags of Espalier
version_added: 0.3.0
description:
  - Returns the tags of the server, every field the API gives.
  - A selector that matches nothing returns an empty list, it does not fail.
author:
  - Espalier developers (@espalier-mdm)
options:
  id:
    description:
      - Id of one tag. Mutually exclusive with O(name).
    type: int
  name:
    description:
      - Name of one tag.
    type: str
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
notes:
  - Needs the permission C(inventory.view_tag).
seealso:
  - module: espalier.mdm.tag
'''

EXAMPLES = r'''
- name: Every tag
  espalier.mdm.tag_info:
  register: tags
'''

RETURN = r'''
tags:
  description: The tags, as M(espalier.mdm.tag) returns one.
  returned: always
  type: list
  elements: dict
  sample:
    - {id: 4, taxonomy: null, meta_business_unit: null, name: pilot, color: "00aa00"}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.objects import TAGS_PATH, find_by_name, object_path


def run(module, client):
    p = module.params
    if p['id'] is not None:
        found = [client.get_or_none(object_path(TAGS_PATH, p['id']))]
    elif p['name'] is not None:
        found = [find_by_name(client, TAGS_PATH, p['name'].strip())]
    else:
        found = client.list_all(TAGS_PATH)
    return dict(changed=False, tags=[o for o in found if o])


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(id=dict(type='int'), name=dict(type='str')),
        mutually_exclusive=[('id', 'name')],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
