#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: device_lock
short_description: Lock a device enrolled in Espalier
version_added: 0.1.0
description:
  - Queues a C(DeviceLock) MDM command for the device and notifies it.
  - The device is read first and the arguments are checked with the server's platform rules,
    so a wrong argument fails before anything is queued.
  - tvOS devices and user enrollments cannot be locked.
  - If a C(DeviceLock) for the device is already pending (status null or C(NotNow)), it is
    returned and nothing is queued, unless O(force=true).
author:
  - Espalier developers (@espalier-mdm)
options:
  pin:
    description:
      - Six-digit PIN to unlock the Mac.
      - Required for macOS devices, refused for the other platforms.
      - Quote it in YAML. An unquoted number is taken when it still has six digits (V(123456)), and refused
        when YAML dropped leading zeros (V(012345) reads as the octal number 5349).
    type: raw
  lock_message:
    description:
      - Message shown on the lock screen, at most 255 characters (the API's C(message)).
      - Named so because C(message) is reserved by Ansible.
    type: str
  phone_number:
    description:
      - Phone number shown on the lock screen, at most 15 characters.
    type: str
  force:
    description:
      - Queue a new command even if a C(DeviceLock) is already pending for the device.
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
  - module: espalier.mdm.device_erase
  - module: espalier.mdm.device_command_info
'''

EXAMPLES = r'''
- name: Lock a lost Mac and wait for it to acknowledge
  espalier.mdm.device_lock:
    serial_number: C02ABC123DEF
    pin: "{{ lock_pin }}"
    lock_message: This Mac is lost. Please call the number below.
    phone_number: "+4900000000"
    wait: true
    wait_timeout: 900

- name: Lock an iPhone
  espalier.mdm.device_lock:
    udid: 00008030-001A2B3C4D5E6F70
    lock_message: Lost iPhone
'''

RETURN = r'''
command:
  description:
    - The C(DeviceLock) command, queued or already pending; after O(wait=true), its final state.
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
      sample: DeviceLock
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
    DEVICE_ARG_RULES, DEVICE_ARGSPEC, lock_problems, pin_argument,
)


def run(module, client):
    p = module.params

    pin = pin_argument(p['pin'])

    def payload(device):
        body = dict(message=p['lock_message'], phone_number=p['phone_number'], pin=pin)
        return {k: v for k, v in body.items() if v is not None}

    return queue_command(
        module, client, 'DeviceLock', 'lock',
        lambda device: lock_problems(device, pin, p['lock_message'], p['phone_number']),
        payload,
    )


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            pin=dict(type='raw', no_log=True),
            lock_message=dict(type='str'),
            phone_number=dict(type='str'),
            **DEVICE_ARGSPEC, **COMMAND_ARGSPEC
        ),
        supports_check_mode=True,
        **DEVICE_ARG_RULES
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
