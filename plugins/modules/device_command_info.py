#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: device_command_info
short_description: Read the MDM command queue of a device enrolled in Espalier
version_added: 0.1.0
description:
  - Returns the MDM commands of one device, pending and answered, oldest first.
  - Or one command by O(uuid).
  - Without a device or O(uuid), the commands of every device; use O(name) and O(status) to keep the answer small.
  - The result also counts the commands by state, so a playbook can check for pending commands or errors.
author:
  - Espalier developers (@espalier-mdm)
options:
  id:
    description:
      - Espalier id of the device.
      - O(id), O(udid), O(serial_number) and O(uuid) are mutually exclusive.
    type: int
  udid:
    description:
      - UDID of the device.
    type: str
  serial_number:
    description:
      - Serial number of the device.
    type: str
  uuid:
    description:
      - UUID of one command.
    type: str
  name:
    description:
      - Only the commands of this request type, for example V(DeviceLock) or V(EraseDevice).
    type: str
  status:
    description:
      - Only the commands in these states.
      - V(pending) means not answered for good yet, that is status null or C(NotNow)
        (the API's C(status=pending) filter).
    type: list
    elements: str
    choices: [pending, Acknowledged, Error, CommandFormatError, NotNow, Canceled]
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
seealso:
  - module: espalier.mdm.device_lock
  - module: espalier.mdm.device_erase
'''

EXAMPLES = r'''
- name: Commands of a device that failed
  espalier.mdm.device_command_info:
    serial_number: C02ABC123DEF
    status: [Error, CommandFormatError]
  register: failed

- name: Is a lock still waiting for the device?
  espalier.mdm.device_command_info:
    serial_number: C02ABC123DEF
    name: DeviceLock
    status: [pending, NotNow]
  register: waiting

- name: Commands in error on any device
  espalier.mdm.device_command_info:
    status: [Error, CommandFormatError]

- name: One command by uuid
  espalier.mdm.device_command_info:
    uuid: 4ec709ba-542e-4adf-8002-7d782e9eae9e
'''

RETURN = r'''
commands:
  description: The commands, oldest first, as the API returns them.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Id of the command.
      type: int
      sample: 815
    uuid:
      description: UUID of the command.
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
    artifact_version:
      description: Artifact version the command installs or removes, if any.
      type: str
    artifact_operation:
      description: Artifact operation, if any.
      type: str
    not_before:
      description: The command is not sent before this time.
      type: str
    time:
      description: When the command was sent to the device.
      type: str
    result:
      description: Result payload, for commands that return one.
      type: raw
    result_time:
      description: When the device answered.
      type: str
    status:
      description: Null while pending, then C(Acknowledged), C(Error), C(CommandFormatError) or C(NotNow).
      type: str
    error_chain:
      description: The error chain the device returned, if any.
      type: list
      elements: dict
    created_at:
      description: When the command was queued.
      type: str
    updated_at:
      description: Last update.
      type: str
counts:
  description: Number of returned commands by state; C(pending) counts null and C(NotNow).
  returned: always
  type: dict
  sample: {pending: 1, acknowledged: 12, error: 0}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.devices import (
    COMMAND_STATUSES, DEVICE_ARGSPEC, DEVICE_KEYS, ERROR_COMMAND_STATUSES, PENDING_STATUSES,
    get_command, list_commands, resolve_device,
)


def _matches(command, name, statuses):
    if name and command.get('name') != name:
        return False
    if statuses:
        status = command.get('status')
        return (status in PENDING_STATUSES and 'pending' in statuses) or status in statuses
    return True


def run(module, client):
    p = module.params
    statuses = p['status'] or []
    if p['uuid']:
        commands = [get_command(client, p['uuid'])]
    else:
        device_id = None
        if any(p[k] is not None for k in DEVICE_KEYS):
            device_id = resolve_device(client, p)['id']
        # one status: let the server filter; several: filter here
        commands = list_commands(client, device_id, name=p['name'],
                                 status=statuses[0] if len(statuses) == 1 else None)
    commands = [c for c in commands if _matches(c, p['name'], statuses)]
    commands.sort(key=lambda c: (c.get('created_at') or '', c.get('id') or 0))
    counts = dict(
        pending=sum(1 for c in commands if c.get('status') in PENDING_STATUSES),
        acknowledged=sum(1 for c in commands if c.get('status') == 'Acknowledged'),
        error=sum(1 for c in commands if c.get('status') in ERROR_COMMAND_STATUSES),
    )
    return dict(changed=False, commands=commands, counts=counts)


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            uuid=dict(type='str'),
            name=dict(type='str'),
            status=dict(type='list', elements='str', choices=['pending'] + list(COMMAND_STATUSES)),
            **DEVICE_ARGSPEC
        ),
        mutually_exclusive=[('id', 'udid', 'serial_number', 'uuid')],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
