#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: dep_sync
short_description: Sync the devices of an ADE (ABM/ASM "DEP") virtual server now
version_added: 0.2.0
description:
  - Starts a device sync of a virtual server (C(POST /api/mdm/dep/virtual_servers/<id>/sync_devices/)), a
    background task of the server; with O(wait=true) waits for it and returns its counts.
  - While a sync of that server runs, the server answers that running task, and the module waits for that one.
author:
  - Espalier developers (@espalier-mdm)
options:
  id:
    description:
      - Id of the virtual server.
    type: int
  name:
    description:
      - Name of the virtual server (looked up first).
    type: str
  full:
    description:
      - Fetch every device again instead of the changes since the last sync.
    type: bool
    default: false
extends_documentation_fragment:
  - espalier.mdm.task.wait
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
attributes:
  check_mode:
    support: full
    details:
      - In check mode the server is looked up and no sync is started.
  diff_mode:
    support: none
notes:
  - C(changed) is true when the sync added, modified or deleted devices (after O(wait=true)), or was started
    without waiting.
  - Needs the permission C(mdm.view_depvirtualserver) (as in Zentral).
seealso:
  - module: espalier.mdm.dep_virtual_server_info
  - module: espalier.mdm.task_info
'''

EXAMPLES = r'''
- name: Sync the devices of the ABM server and show what changed
  espalier.mdm.dep_sync:
    name: Espalier MDM
    wait: true
  register: sync

- name: Say what changed
  ansible.builtin.debug:
    msg: "{{ sync.counts.added }} added, {{ sync.counts.deleted }} deleted"
'''

RETURN = r'''
virtual_server:
  description: Id of the virtual server.
  returned: success
  type: int
  sample: 1
task_id:
  description: Id of the server's background task (null in check mode).
  returned: success
  type: str
counts:
  description: The sync's counts (C(added), C(modified), C(unchanged), C(deleted), C(pages), C(skipped)), after O(wait=true).
  returned: when O(wait=true) and not in check mode
  type: dict
  sample: {added: 25, modified: 0, unchanged: 0, deleted: 0, pages: 1, skipped: 0}
task:
  description: The background task as M(espalier.mdm.task_info) returns it, after O(wait=true).
  returned: when O(wait=true) and not in check mode
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import FAILED_TASK_STATUS, WAIT_ARGSPEC, api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.dep import resolve_virtual_server, virtual_server_path

COUNT_KEYS = ('added', 'modified', 'unchanged', 'deleted', 'pages', 'skipped')


def run(module, client):
    p = module.params
    server = resolve_virtual_server(client, p['id'], p['name'])
    result = dict(changed=True, virtual_server=server['id'], task_id=None)
    if module.check_mode:
        result['msg'] = 'the devices of %s would be synced (check mode)' % server['name']
        return result
    ref = client.post(virtual_server_path(server['id'], 'sync_devices'), None,
                      params=dict(full_sync='true') if p['full'] else None)
    result.update(task_id=ref.get('task_id'), msg='sync of %s started: task %s' % (server['name'], ref.get('task_id')))
    if p['wait']:
        task = client.wait_task(ref['task_id'], p['wait_timeout'])
        outcome = task.get('result') or {}
        counts = dict((k, outcome.get(k, 0)) for k in COUNT_KEYS)
        result.update(task=task, counts=counts, changed=any(counts[k] for k in ('added', 'modified', 'deleted')),
                      msg='%s: %s' % (result['msg'], task.get('status')))
        if task.get('status') == FAILED_TASK_STATUS:
            module.fail_json(**dict(result, msg='%s: %s' % (result['msg'], task.get('error') or 'no error given')))
    return result


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(id=dict(type='int'), name=dict(type='str'),
                                        full=dict(type='bool', default=False), **WAIT_ARGSPEC),
        required_one_of=[('id', 'name')],
        mutually_exclusive=[('id', 'name')],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
