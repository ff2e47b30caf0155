#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: device_erase
short_description: Erase a device enrolled in Espalier
version_added: 0.1.0
description:
  - Queues an C(EraseDevice) MDM command for the device and notifies it. The device erases
    all its content and settings when it runs the command.
  - The device is read first and the arguments are checked with the server's platform rules,
    so a wrong argument fails before anything is queued.
  - iOS and iPadOS devices need O(disallow_proximity_setup) and O(preserve_data_plan), and take no O(pin).
  - Intel Macs with a T1 chip or no security chip need a six-character O(pin).
    Apple silicon Macs take no argument. Whether a T2 Mac needs a O(pin) depends on what it reported
    to the server, so a O(pin) given for it is passed on and the server decides.
  - User enrollments cannot be erased.
  - If an C(EraseDevice) for the device is already pending (status null or C(NotNow)), it is
    returned and nothing is queued, unless O(force=true).
author:
  - Espalier developers (@espalier-mdm)
options:
  disallow_proximity_setup:
    description:
      - iOS and iPadOS only, required there. Disable Proximity Setup on the next reboot.
    type: bool
  preserve_data_plan:
    description:
      - iOS and iPadOS only, required there. Keep the eSIM data plan.
    type: bool
  pin:
    description:
      - Six-character Find My PIN, required for Intel Macs without a T2 chip, refused for Apple silicon
        Macs and the other platforms.
      - Quote it in YAML. An unquoted number is taken when it still has six digits, and refused when YAML
        dropped leading zeros (V(012345) reads as the octal number 5349).
    type: raw
  force:
    description:
      - Queue a new command even if an C(EraseDevice) is already pending for the device.
    type: bool
    default: false
extends_documentation_fragment:
  - espalier.mdm.device
  - espalier.mdm.device.command
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
notes:
  - C(changed) means a command was queued (or would be, in check mode).
  - In check mode nothing is queued and nothing is waited for.
seealso:
  - module: espalier.mdm.device_lock
  - module: espalier.mdm.device_command_info
'''

EXAMPLES = r'''
- name: Erase an Apple silicon Mac
  espalier.mdm.device_erase:
    serial_number: C02ABC123DEF

- name: Erase an iPad, keeping its data plan
  espalier.mdm.device_erase:
    serial_number: DMPABC123DEF
    disallow_proximity_setup: true
    preserve_data_plan: true
    wait: true

- name: Erase an Intel Mac without a T2 chip
  espalier.mdm.device_erase:
    serial_number: C02OLD123DEF
    pin: "{{ find_my_pin }}"
'''

RETURN = r'''
command:
  description:
    - The C(EraseDevice) command, queued or already pending; after O(wait=true), its final state.
    - In check mode, only RV(command.name), RV(command.enrolled_device) and RV(command.status).
  returned: success
  type: dict
  contains:
    id:
      description: Id of the command.
      type: int
      sample: 815
    uuid:
      description: UUID of the command, as sent to the device.
      type: str
      sample: 4ec709ba-542e-4adf-8002-7d782e9eae9e
    enrolled_device:
      description: Id of the device.
      type: int
      sample: 27
    name:
      description: Request type.
      type: str
      sample: EraseDevice
    status:
      description: Null while pending, then C(Acknowledged), C(Error), C(CommandFormatError) or C(NotNow).
      type: str
      sample: Acknowledged
    error_chain:
      description: The error chain the device returned, if any.
      type: list
      elements: dict
    created_at:
      description: When the command was queued.
      type: str
      sample: "2024-03-28T16:27:05.829954"
device:
  description: The device, as M(espalier.mdm.device_info) returns it.
  returned: success
  type: dict
  sample:
    id: 27
    serial_number: "012345678910"
    platform: macOS
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.commands import COMMAND_ARGSPEC, queue_command
from ansible_collections.espalier.mdm.plugins.module_utils.devices import (
    DEVICE_ARG_RULES, DEVICE_ARGSPEC, erase_problems, pin_argument,
)

ERASE_ARGS = ('disallow_proximity_setup', 'preserve_data_plan', 'pin')


def run(module, client):
    p = dict(module.params, pin=pin_argument(module.params['pin']))
    return queue_command(
        module, client, 'EraseDevice', 'erase',
        lambda device: erase_problems(device, p['disallow_proximity_setup'], p['preserve_data_plan'], p['pin']),
        lambda device: {k: p[k] for k in ERASE_ARGS if p[k] is not None},
    )


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            disallow_proximity_setup=dict(type='bool'),
            preserve_data_plan=dict(type='bool'),
            pin=dict(type='raw', no_log=True),
            **DEVICE_ARGSPEC, **COMMAND_ARGSPEC
        ),
        supports_check_mode=True,
        **DEVICE_ARG_RULES
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
