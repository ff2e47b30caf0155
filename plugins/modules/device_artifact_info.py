#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: device_artifact_info
short_description: Where the artifacts of one Espalier device stand
version_added: 0.3.0
description:
  - Returns, for one enrolled device, each artifact version it has or had from its blueprint and its status
    (C(pending), C(installed), C(failed) with the device's error, C(removed)).
author:
  - Espalier developers (@espalier-mdm)
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.device
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
notes:
  - Needs the permissions C(mdm.view_enrolleddevice) and C(mdm.view_deviceartifact).
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
'''

RETURN = r'''
device:
  description: The device, as M(espalier.mdm.device_info) returns it.
  returned: success
  type: dict
  sample: {id: 27, serial_number: C02XK1JHJGH5, platform: macOS, blueprint: 2}
device_artifacts:
  description: The artifact rows of the device.
  returned: success
  type: list
  elements: dict
  sample:
    - {id: 9, enrolled_device: 27, artifact: 0b4d6c36-6a3c-4c14-a8d3-45c6f1ae2a6e, artifact_version: 6f1c2f8e-8d6b-4d0e-9c39-2b7b8a1b3c11,
       operation: Installation, status: installed, error_chain: null}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.devices import (
    DEVICE_ARG_RULES, DEVICE_ARGSPEC, device_path, resolve_device,
)


def run(module, client):
    device = resolve_device(client, module.params)
    return dict(changed=False, device=device, device_artifacts=client.get(device_path(device['id'], 'artifacts')))


def main():
    module = AnsibleModule(argument_spec=api_argument_spec(**DEVICE_ARGSPEC), supports_check_mode=True, **DEVICE_ARG_RULES)
    run_module(module, run)


if __name__ == '__main__':
    main()
