#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: task_info
short_description: Read the result of an Espalier background task
version_added: 0.1.0
description:
  - Long operations of the Espalier API (a DEP sync, a software update sync) answer with a
    C(task_id) and run in a worker. This module reads the task result, and can wait for it.
author:
  - Espalier developers (@espalier-mdm)
options:
  task_id:
    description:
      - Id of the task, as returned in C(task_id).
    type: str
    required: true
  fail_on_failed:
    description:
      - Fail when the task status is C(FAILURE).
    type: bool
    default: false
extends_documentation_fragment:
  - espalier.mdm.task.wait
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
'''

EXAMPLES = r'''
- name: Wait for a task started earlier
  espalier.mdm.task_info:
    task_id: "{{ sync.task_id }}"
    wait: true
    wait_timeout: 600
    fail_on_failed: true
  register: task
'''

RETURN = r'''
task:
  description: The task result.
  returned: always
  type: dict
  contains:
    id:
      description: Id of the task.
      type: str
      sample: b1512b8d-1e17-4181-a1c3-93a7243fddd4
    name:
      description: What the task does.
      type: str
    status:
      description:
        - Celery's words, as Zentral answers - C(PENDING) (queued), C(STARTED), C(SUCCESS) or C(FAILURE).
        - An id the server does not know (C(UNKNOWN)) fails the task.
      type: str
      sample: SUCCESS
    unready:
      description: Whether the task is still to finish (poll again); false once it is C(SUCCESS) or C(FAILURE).
      type: bool
      sample: false
    progress:
      description: Progress reported by the worker.
      type: raw
    result:
      description: Result of a finished task.
      type: raw
    error:
      description: Error of a failed task.
      type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import FAILED_TASK_STATUS, WAIT_ARGSPEC, api_argument_spec, known_task, run_module


def run(module, client):
    p = module.params
    task = client.wait_task(p['task_id'], p['wait_timeout']) if p['wait'] else known_task(client.get_task(p['task_id']))
    result = dict(changed=False, task=task)
    if p['fail_on_failed'] and task.get('status') == FAILED_TASK_STATUS:
        module.fail_json(msg='task %s failed: %s' % (p['task_id'], task.get('error') or 'no error given'), **result)
    return result


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            task_id=dict(type='str', required=True),
            fail_on_failed=dict(type='bool', default=False),
            **WAIT_ARGSPEC
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
