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
  - The server checks the arguments first (a dry run of the same request), in check mode too. Which
    arguments a device needs is the server's decision, from what the device reported (an unsupervised
    T2 Mac needs no O(pin) unless it says so). A refused argument fails with the server's explanation
    before anything is queued; arguments that do not apply to the device are ignored by the server.
  - iOS and iPadOS devices need O(disallow_proximity_setup) and O(preserve_data_plan); Macs that need a
    Find My PIN need O(pin).
  - If the same C(EraseDevice) (compared by the server's C(request_hash)) is pending, it is returned and
    nothing is queued; a pending one with other arguments is canceled and replaced, or the task fails
    naming it when the device already fetched it.
  - One-shot by default (O(once=true)); once the device has acknowledged this erase (since O(since),
    when given), later runs report no change, so an erase task kept in a playbook does not wipe the
    re-provisioned device at every run. Set O(since) to the time of the new decision to erase again.
author:
  - Espalier developers (@espalier-mdm)
options:
  disallow_proximity_setup:
    description:
      - iOS and iPadOS (required there). Disable Proximity Setup on the next reboot.
    type: bool
  preserve_data_plan:
    description:
      - iOS and iPadOS (required there). Keep the eSIM data plan.
    type: bool
  pin:
    description:
      - Six-character Find My PIN, for the Macs the server says need one (C(pin_required_for_erase) of the device).
      - Quote it in YAML. An unquoted number is taken when it still has six digits, and refused when YAML
        dropped leading zeros (V(012345) reads as the octal number 5349).
    type: raw
extends_documentation_fragment:
  - espalier.mdm.device
  - espalier.mdm.device.command
  - espalier.mdm.device.once
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
notes:
  - C(changed) means a command was queued (or would be, in check mode).
  - In check mode nothing is queued, canceled or waited for; the server still checks the arguments.
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
      description: Null while pending, then C(Acknowledged), C(Error), C(CommandFormatError), C(NotNow) or C(Canceled).
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
replaced:
  description: The pending erase commands with other arguments that were canceled (would be, in check mode).
  returned: success
  type: list
  elements: dict
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
from ansible_collections.espalier.mdm.plugins.module_utils.devices import DEVICE_ARG_RULES, DEVICE_ARGSPEC, pin_argument

ERASE_ARGS = ('disallow_proximity_setup', 'preserve_data_plan', 'pin')


def run(module, client):
    p = dict(module.params, pin=pin_argument(module.params['pin']))
    return queue_command(module, client, 'EraseDevice', 'erase', {k: p[k] for k in ERASE_ARGS if p[k] is not None},
                         once=p['once'])


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
