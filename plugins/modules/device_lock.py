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
  - The server checks the arguments first (a dry run of the same request), in check mode too, so a
    refused argument fails with the server's explanation before anything is queued, and check mode
    reports exactly what would happen. Which devices need a O(pin) is the server's decision, from what
    the device reported.
  - If the same C(DeviceLock) (same arguments, compared by the server's C(request_hash), never by the
    PIN itself) is pending, it is returned and nothing is queued.
  - If a C(DeviceLock) with other arguments is pending, it is canceled and this one queued, so the
    PIN the device gets is the PIN of the playbook. If the device already fetched it, the task fails
    and names it (set O(force=true) to queue anyway).
  - One-shot by default (O(once=true)); once the device has acknowledged this same lock (since
    O(since), when given), later runs report no change, so a lock task kept in a playbook does not
    lock the device again after it was unlocked.
author:
  - Espalier developers (@espalier-mdm)
options:
  pin:
    description:
      - PIN to unlock the Mac (six digits). The server says whether the device needs one (macOS, unless the
        Mac reported it does not) and ignores it for the other platforms.
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
  - Needs C(mdm.add_devicecommand), C(mdm.view_devicecommand) and, to replace a pending lock,
    C(mdm.change_devicecommand).
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
    - In check mode, only RV(command.name), RV(command.enrolled_device), RV(command.request_hash) and
      RV(command.status).
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
      description: Null while pending, then C(Acknowledged), C(Error), C(CommandFormatError), C(NotNow) or C(Canceled).
      type: str
      sample: Acknowledged
    request_hash:
      description: The server's name for this request (same RequestType and arguments, same hash).
      type: str
      sample: 5d0e3f0c2b7a4c1e9f8d6b5a4c3e2f1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f
    error_chain:
      description: The error chain the device returned, if any.
      type: list
      elements: dict
    created_at:
      description: When the command was queued.
      type: str
      sample: "2024-03-28T16:27:05.829954"
replaced:
  description: The pending commands of the same name with other arguments that were canceled (would be, in check mode).
  returned: success
  type: list
  elements: dict
  sample: [{name: DeviceLock, uuid: 4ec709ba-542e-4adf-8002-7d782e9eae9e, request_hash: 9f1c0d}]
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


def run(module, client):
    p = module.params
    body = dict(message=p['lock_message'], phone_number=p['phone_number'], pin=pin_argument(p['pin']))
    return queue_command(module, client, 'DeviceLock', 'lock', {k: v for k, v in body.items() if v is not None},
                         once=p['once'])


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
