#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: device_command
short_description: Queue an MDM command for a device enrolled in Espalier
version_added: 0.2.0
description:
  - Queues any MDM command the Espalier server supports for one device and notifies the device,
    through C(POST /api/mdm/devices/<id>/commands/) with the request type in O(name) and its
    arguments in O(arguments), as the API's snake_case fields.
  - The server checks the arguments first (a dry run of the same request, in check mode too); a refused
    argument fails the task with the server's explanation and nothing is queued.
  - With O(wait=true) the task waits for the device's answer and returns the command with its
    RV(command.result).
  - To lock or erase, prefer M(espalier.mdm.device_lock) and M(espalier.mdm.device_erase), which
    are one-shot and replace a pending command with other arguments.
author:
  - Espalier developers (@espalier-mdm)
options:
  name:
    description:
      - The request type, as the server knows it, for example V(DeviceInformation), V(SecurityInfo),
        V(ProfileList), V(CertificateList), V(InstalledApplicationList), V(InstallProfile), V(RemoveProfile),
        V(RestartDevice), V(ShutDownDevice), V(DeviceConfigured) or V(CustomCommand).
      - An unknown name fails with the list of the names the server knows.
    type: str
    required: true
  arguments:
    description:
      - The command's arguments, as the API takes them (snake_case), for example C(managed_only) for
        V(ProfileList), or C(command) (the raw command dictionary) for V(CustomCommand).
    type: dict
    default: {}
  unless_pending:
    description:
      - Do not queue the command when the same request (same O(name) and O(arguments), as the server's
        C(request_hash) says) is still pending for the device (status null or C(NotNow)); that command is
        returned instead. Pending commands with other arguments are left as they are.
    type: bool
    default: false
extends_documentation_fragment:
  - espalier.mdm.device
  - espalier.mdm.device.command
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is queued and nothing is waited for; the server checks the arguments as it
        would for a real request (a dry run), so a command it would refuse fails in check mode too.
notes:
  - C(changed) means a command was queued (or would be, in check mode). Without O(unless_pending), every
    run queues a new command, as the command is an action, not a state.
seealso:
  - module: espalier.mdm.device_command_info
  - module: espalier.mdm.device_lock
  - module: espalier.mdm.device_erase
'''

EXAMPLES = r'''
- name: Ask a Mac for its installed profiles and wait for the answer
  espalier.mdm.device_command:
    serial_number: C02ABC123DEF
    name: ProfileList
    arguments:
      managed_only: true
    wait: true
  register: profiles

- name: Show the profile identifiers
  ansible.builtin.debug:
    msg: "{{ profiles.command.result.ProfileList | map(attribute='PayloadIdentifier') }}"

- name: Refresh the device information, unless a refresh is already waiting
  espalier.mdm.device_command:
    udid: 2A7F9BCE-9B52-4073-BE21-E419C85068E9
    name: DeviceInformation
    unless_pending: true
'''

RETURN = r'''
command:
  description:
    - The command, queued or already pending; after O(wait=true), its final state with the device's answer.
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
      sample: ProfileList
    status:
      description: Null while pending, then C(Acknowledged), C(Error), C(CommandFormatError), C(NotNow) or C(Canceled).
      type: str
      sample: Acknowledged
    request_hash:
      description: The server's name for this request (same RequestType and arguments, same hash).
      type: str
    result:
      description: The device's answer, for the commands whose answer the server keeps.
      type: raw
    result_time:
      description: When the device answered.
      type: str
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

from ansible_collections.espalier.mdm.plugins.module_utils.api import WAIT_ARGSPEC, api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.commands import queue_command
from ansible_collections.espalier.mdm.plugins.module_utils.devices import DEVICE_ARG_RULES, DEVICE_ARGSPEC


def run(module, client):
    p = module.params
    return queue_command(module, client, p['name'], 'commands', dict(name=p['name'], arguments=p['arguments']),
                         replace=False, skip_same=p['unless_pending'])


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            name=dict(type='str', required=True),
            arguments=dict(type='dict', default={}),
            unless_pending=dict(type='bool', default=False),
            **DEVICE_ARGSPEC, **WAIT_ARGSPEC
        ),
        supports_check_mode=True,
        **DEVICE_ARG_RULES
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
