#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: dep_virtual_server_info
short_description: Read the ADE (ABM/ASM "DEP") virtual servers of Espalier
version_added: 0.2.0
description:
  - Lists the virtual servers (C(GET /api/mdm/dep/virtual_servers/)), or reads one by O(id) or O(name).
author:
  - Espalier developers (@espalier-mdm)
options:
  id:
    description:
      - Id of the virtual server.
    type: int
  name:
    description:
      - Name of the virtual server, as ABM names it.
    type: str
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
notes:
  - Needs the permission C(mdm.view_depvirtualserver).
seealso:
  - module: espalier.mdm.dep_sync
  - module: espalier.mdm.dep_device_info
'''

EXAMPLES = r'''
- name: Find the virtual server of the school's ABM
  espalier.mdm.dep_virtual_server_info:
    name: Espalier MDM
  register: found
'''

RETURN = r'''
virtual_servers:
  description: The virtual servers found, by id.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Id of the virtual server.
      type: int
      sample: 1
    name:
      description: Its name in ABM.
      type: str
    uuid:
      description: Apple's server UUID.
      type: str
    created_at:
      description: When it was added.
      type: str
    updated_at:
      description: When it last changed.
      type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.dep import list_virtual_servers, virtual_server_path


def run(module, client):
    p = module.params
    if p['id'] is not None:
        found = client.get_or_none(virtual_server_path(p['id']))
        servers = [found] if found else []
    else:
        servers = list_virtual_servers(client, p['name'])
    return dict(changed=False, virtual_servers=sorted(servers, key=lambda vs: vs.get('id') or 0))


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(id=dict(type='int'), name=dict(type='str')),
        mutually_exclusive=[('id', 'name')],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
