#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: ota_enrollment_info
short_description: List the over-the-air enrollments of Espalier
version_added: 0.2.0
description:
  - Returns the OTA enrollments of the server, every field the API gives, with their enrollment URL.
  - Without O(id) or O(name) every enrollment is returned. A selector that matches nothing returns an
    empty list, it does not fail.
author:
  - Espalier developers (@espalier-mdm)
options:
  id:
    description:
      - Id of one enrollment. Mutually exclusive with O(name).
    type: int
  name:
    description:
      - Name of one enrollment.
    type: str
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
notes:
  - The C(secret) and C(enroll_url) of each enrollment in RV(ota_enrollments) let any device enroll. Set C(no_log)
    on the task when its output is logged somewhere others read.
  - Needs the permission C(mdm.view_otaenrollment).
seealso:
  - module: espalier.mdm.ota_enrollment
'''

EXAMPLES = r'''
- name: The enrollment link of the staff enrollment
  espalier.mdm.ota_enrollment_info:
    name: Staff
  register: staff

- name: Show it
  ansible.builtin.debug:
    msg: "{{ staff.ota_enrollments[0].enroll_url }}"
  when: staff.ota_enrollments | length > 0
'''

RETURN = r'''
ota_enrollments:
  description: The enrollments, by id, as M(espalier.mdm.ota_enrollment) returns one.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 3
      name: Staff
      display_name: Example Inc. staff
      push_certificate: 1
      blueprint: null
      identity_source: builtin
      scep_url: null
      reusable: true
      quota: 500
      secret: 6Dm4xqW1b0yJtGk3Fq9pQ8eT7uVrZ2sA
      enroll_url: https://mdm.example.com/public/enroll/6Dm4xqW1b0yJtGk3Fq9pQ8eT7uVrZ2sA/
      secret_used_at: null
      created_at: "2024-06-01T08:00:00"
      updated_at: "2024-06-01T08:00:00"
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.enrollments import (
    find_ota_enrollment, get_ota_enrollment, list_ota_enrollments,
)


def run(module, client):
    p = module.params
    if p['id'] is not None:
        found = [get_ota_enrollment(client, p['id'])]
    elif p['name'] is not None:
        found = [find_ota_enrollment(client, p['name'])]
    else:
        found = list_ota_enrollments(client)
    return dict(changed=False, ota_enrollments=sorted((e for e in found if e), key=lambda e: e.get('id') or 0))


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(id=dict(type='int'), name=dict(type='str')),
        mutually_exclusive=[('id', 'name')],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
