#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: notify
short_description: Send push notifications to devices enrolled in Espalier now
version_added: 0.2.0
description:
  - Asks the server to push the given devices at once, so that they connect and fetch their pending
    commands (C(POST /api/mdm/devices/notify/)). The pushes run as a background task of the server.
  - Devices are given by O(ids), O(serial_numbers) or O(udids), or several of them; serial numbers and
    UDIDs are looked up first (one request each), ids are sent as they are.
  - With O(wait=true) the task waits until the server's background task is ready (C(SUCCESS) or C(FAILURE)),
    and fails if it failed.
author:
  - Espalier developers (@espalier-mdm)
options:
  ids:
    description:
      - Espalier ids of the devices.
    type: list
    elements: int
  serial_numbers:
    description:
      - Serial numbers of the devices. Each must match exactly one enrolled device.
    type: list
    elements: str
  udids:
    description:
      - UDIDs of the devices.
    type: list
    elements: str
extends_documentation_fragment:
  - espalier.mdm.task.wait
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
attributes:
  check_mode:
    support: full
    details:
      - In check mode the devices are looked up and nothing is sent.
  diff_mode:
    support: none
notes:
  - C(changed) means notifications were requested (or would be, in check mode). Every run sends them,
    as a notification is an action, not a state.
  - Needs the permission C(mdm.change_enrolleddevice).
seealso:
  - module: espalier.mdm.task_info
  - module: espalier.mdm.device_command
'''

EXAMPLES = r'''
- name: Wake two Macs so that they fetch their commands now
  espalier.mdm.notify:
    serial_numbers: [C02ABC123DEF, C02XYZ987654]
    wait: true

- name: Wake every blocked device so that it is released
  espalier.mdm.notify:
    ids: "{{ fleet.devices | rejectattr('blocked_at', 'none') | map(attribute='id') }}"
  when: fleet.devices | rejectattr('blocked_at', 'none') | length > 0
'''

RETURN = r'''
devices:
  description: Ids of the devices notified (to be notified, in check mode), sorted, each once.
  returned: success
  type: list
  elements: int
  sample: [27, 31]
task_id:
  description: Id of the server's background task (null in check mode); M(espalier.mdm.task_info) reads it.
  returned: success
  type: str
  sample: b1512b8d-1e17-4181-a1c3-93a7243fddd4
task:
  description: The background task as M(espalier.mdm.task_info) returns it, after O(wait=true).
  returned: when O(wait=true) and not in check mode
  type: dict
  sample:
    id: b1512b8d-1e17-4181-a1c3-93a7243fddd4
    name: notify_devices
    status: SUCCESS
    unready: false
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import FAILED_TASK_STATUS, WAIT_ARGSPEC, api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.devices import DEVICES_PATH, resolve_device

SELECTORS = dict(ids='id', serial_numbers='serial_number', udids='udid')


def run(module, client):
    p = module.params
    ids = set(p['ids'] or [])
    for option in ('serial_numbers', 'udids'):
        for value in p[option] or []:
            ids.add(resolve_device(client, {SELECTORS[option]: value})['id'])
    ids = sorted(ids)
    result = dict(changed=True, devices=ids, task_id=None)
    if module.check_mode:
        result['msg'] = '%d device(s) would be notified (check mode)' % len(ids)
        return result
    ref = client.post(DEVICES_PATH + 'notify/', dict(devices=ids))
    result.update(task_id=ref.get('task_id'), msg='%d device(s) notified: task %s' % (len(ids), ref.get('task_id')))
    if p['wait']:
        task = client.wait_task(ref['task_id'], p['wait_timeout'])
        result.update(task=task, msg='%s, %s' % (result['msg'], task.get('status')))
        if task.get('status') == FAILED_TASK_STATUS:
            module.fail_json(**dict(result, msg='%s: %s' % (result['msg'], task.get('error') or 'no error given')))
    return result


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            ids=dict(type='list', elements='int'),
            serial_numbers=dict(type='list', elements='str'),
            udids=dict(type='list', elements='str'),
            **WAIT_ARGSPEC
        ),
        required_one_of=[list(SELECTORS)],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
