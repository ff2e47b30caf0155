#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: dep_device_info
short_description: Read the ADE (ABM/ASM "DEP") devices Espalier knows from its syncs
version_added: 0.2.0
description:
  - Lists DEP devices (C(GET /api/mdm/dep/devices/)) with the server's filters, every page followed.
  - Devices Apple deleted or that were disowned stay listed, with C(last_op_type) C(deleted) or C(disowned_at).
author:
  - Espalier developers (@espalier-mdm)
options:
  serial_number:
    description:
      - Serial number of the device.
    type: str
  virtual_server:
    description:
      - Id of the virtual server.
    type: int
  profile_status:
    description:
      - Apple's profile status.
    type: str
    choices: [empty, assigned, pushed, removed]
  profile_uuid:
    description:
      - UUID of the ADE profile assigned.
    type: str
  device_family:
    description:
      - Apple's device family (C(Mac), C(iPhone), C(iPad), ...).
    type: str
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
notes:
  - Needs the permission C(mdm.view_depdevice).
seealso:
  - module: espalier.mdm.dep_sync
'''

EXAMPLES = r'''
- name: The Macs of the ABM server not assigned a profile yet
  espalier.mdm.dep_device_info:
    device_family: Mac
    profile_status: empty
  register: unassigned
'''

RETURN = r'''
dep_devices:
  description: The devices found, in the server's order, as the API returns them.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 14
      virtual_server: 1
      serial_number: C02ABC123DEF
      device_family: Mac
      os: OSX
      profile_status: empty
      last_op_type: added
      disowned_at: null
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.dep import list_devices

FILTERS = ('serial_number', 'virtual_server', 'profile_status', 'profile_uuid', 'device_family')


def run(module, client):
    return dict(changed=False, dep_devices=list_devices(client, dict((k, module.params[k]) for k in FILTERS)))


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            serial_number=dict(type='str'),
            virtual_server=dict(type='int'),
            profile_status=dict(type='str', choices=['empty', 'assigned', 'pushed', 'removed']),
            profile_uuid=dict(type='str'),
            device_family=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
