#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: device_artifact_info
short_description: Where the artifacts of Espalier devices stand
version_added: 0.3.0
description:
  - Returns artifact rows of enrolled devices, each an artifact version a device has or had from its blueprint, with
    its status (C(pending), C(installed), C(failed) with the device's error, C(removed)).
  - With O(id), O(udid) or O(serial_number), the rows of that device, newest change first; without, the rows of the
    whole fleet, oldest change first, filtered by O(status), O(artifact) and O(stale_for).
author:
  - Espalier developers (@espalier-mdm)
options:
  id:
    description:
      - Espalier id of the device. At most one of O(id), O(udid) and O(serial_number).
    type: int
  udid:
    description:
      - UDID of the device.
    type: str
  serial_number:
    description:
      - Serial number of the device. Fails if several enrolled devices share it; use O(udid) or O(id) then.
    type: str
  status:
    description:
      - Only rows with this status.
    type: str
    choices: [pending, installed, failed, removed]
  artifact:
    description:
      - Only rows of this artifact, by name.
    type: str
  stale_for:
    description:
      - Only rows unchanged for at least this many seconds (with O(status=pending), what devices have not taken).
    type: int
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
notes:
  - Needs the permission C(mdm.view_deviceartifact), and C(mdm.view_enrolleddevice) with a device, C(mdm.view_artifact)
    with O(artifact).
seealso:
  - module: espalier.mdm.profile_info
  - module: espalier.mdm.blueprint_artifact
'''

EXAMPLES = r'''
- name: What the lost Mac has
  espalier.mdm.device_artifact_info:
    serial_number: C02XK1JHJGH5
  register: artifacts

- name: Every profile is installed
  ansible.builtin.assert:
    that: artifacts.device_artifacts | rejectattr('status', 'in', ['installed', 'removed']) | list | length == 0

- name: Profiles the fleet has not taken after a day
  espalier.mdm.device_artifact_info:
    status: pending
    stale_for: 86400
  register: late
'''

RETURN = r'''
device:
  description: The device, as M(espalier.mdm.device_info) returns it; null without a device option.
  returned: success
  type: dict
  sample: {id: 27, serial_number: C02XK1JHJGH5, platform: macOS, blueprint: 2}
device_artifacts:
  description: The artifact rows.
  returned: success
  type: list
  elements: dict
  sample:
    - {id: 9, enrolled_device: 27, artifact: 0b4d6c36-6a3c-4c14-a8d3-45c6f1ae2a6e, artifact_version: 6f1c2f8e-8d6b-4d0e-9c39-2b7b8a1b3c11,
       operation: Installation, status: installed, error_chain: null}
'''


from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError, api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.devices import DEVICE_ARGSPEC, DEVICE_KEYS, device_path, resolve_device
from ansible_collections.espalier.mdm.plugins.module_utils.objects import ARTIFACTS_PATH, find_by_name

FLEET_PATH = 'api/mdm/device_artifacts/'


def run(module, client):
    p = module.params
    device = resolve_device(client, p) if any(p[k] is not None for k in DEVICE_KEYS) else None
    params = dict(status=p['status'], stale_for=p['stale_for'])
    if device is not None:
        params['enrolled_device'] = device['id']
    if p['artifact'] is not None:
        artifact = find_by_name(client, ARTIFACTS_PATH, p['artifact'].strip())
        if artifact is None:
            raise EspalierModuleError("artifact: no artifact named '%s'" % p['artifact'])
        params['artifact'] = artifact['id']
    params = {k: v for k, v in params.items() if v is not None}
    if device is not None and list(params) == ['enrolled_device']:
        rows = client.get(device_path(device['id'], 'artifacts'))
    else:
        rows = client.list_all(FLEET_PATH, params)
    return dict(changed=False, device=device, device_artifacts=rows)


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            status=dict(type='str', choices=['pending', 'installed', 'failed', 'removed']),
            artifact=dict(type='str'),
            stale_for=dict(type='int'),
            **DEVICE_ARGSPEC),
        mutually_exclusive=[DEVICE_KEYS],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
