#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: software_updates_sync
short_description: Sync Espalier's software update catalogue from Apple now
version_added: 0.3.0
description:
  - Asks the server to read Apple's software update catalogue (C(https://gdmf.apple.com/v2/pmv)) and make its
    own copy match it (C(POST /api/mdm/software_updates/sync/)). The sync runs as a background task of the
    server; the server also syncs on its own once a day.
  - With O(wait=true) the task waits until the server's background task is ready and returns its counts
    (entries C(created), C(present) and C(deleted)); it fails if the sync failed (the catalogue is then
    left as it was).
author:
  - Espalier developers (@espalier-mdm)
options: {}
extends_documentation_fragment:
  - espalier.mdm.task.wait
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is asked of the server and the task reports a change.
  diff_mode:
    support: none
notes:
  - C(changed) is true when a sync was requested (or would be, in check mode); after O(wait=true), when the
    sync created or deleted catalogue entries.
  - Needs the permissions C(mdm.add_softwareupdate), C(mdm.change_softwareupdate) and C(mdm.delete_softwareupdate).
seealso:
  - module: espalier.mdm.software_update_info
  - module: espalier.mdm.task_info
'''

EXAMPLES = r'''
- name: Sync the catalogue before choosing an OS version to enforce
  espalier.mdm.software_updates_sync:
    wait: true
  register: sync

- name: Show what changed
  ansible.builtin.debug:
    msg: "{{ sync.counts.created }} new, {{ sync.counts.deleted }} gone"
'''

RETURN = r'''
task_id:
  description: Id of the server's background task (null in check mode); M(espalier.mdm.task_info) reads it.
  returned: success
  type: str
  sample: b1512b8d-1e17-4181-a1c3-93a7243fddd4
counts:
  description: Catalogue entries the sync created, found present and deleted.
  returned: when O(wait=true) and not in check mode
  type: dict
  sample: {created: 3, present: 41, deleted: 2}
task:
  description: The background task as M(espalier.mdm.task_info) returns it, after O(wait=true).
  returned: when O(wait=true) and not in check mode
  type: dict
  sample:
    id: b1512b8d-1e17-4181-a1c3-93a7243fddd4
    name: sync_software_updates
    status: SUCCESS
    unready: false
    result: {created: 3, present: 41, deleted: 2}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import FAILED_TASK_STATUS, WAIT_ARGSPEC, api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.software_updates import COUNTS, SYNC_PATH


def run(module, client):
    p = module.params
    result = dict(changed=True, task_id=None)
    if module.check_mode:
        result['msg'] = 'the software update catalogue would be synced (check mode)'
        return result
    ref = client.post(SYNC_PATH)
    result.update(task_id=ref.get('task_id'), msg='software update sync started: task %s' % ref.get('task_id'))
    if not p['wait']:
        return result
    task = client.wait_task(ref['task_id'], p['wait_timeout'])
    result['task'] = task
    if task.get('status') == FAILED_TASK_STATUS:
        module.fail_json(**dict(result, msg='software update sync failed: %s' % (task.get('error') or 'no error given')))
    answer = task.get('result') if isinstance(task.get('result'), dict) else {}
    counts = dict((key, answer.get(key, 0)) for key in COUNTS)
    result.update(counts=counts, changed=bool(counts['created'] or counts['deleted']),
                  msg='software update catalogue synced: %(created)d created, %(present)d present, %(deleted)d deleted'
                  % counts)
    return result


def main():
    module = AnsibleModule(argument_spec=api_argument_spec(**WAIT_ARGSPEC), supports_check_mode=True)
    run_module(module, run)


if __name__ == '__main__':
    main()
