#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: ota_enrollment
short_description: Declare an over-the-air enrollment of Espalier
version_added: 0.2.0
description:
  - Creates, updates or deletes an OTA enrollment, matched by O(name). An OTA enrollment is the link
    devices open to get their enrollment profile (RV(ota_enrollment.enroll_url)).
  - Only the options the task sets are managed; the others keep their value on the server (on creation,
    the server's defaults).
  - The enrollment is read first and written only when a managed field differs, so a second run
    reports no change.
author:
  - Espalier developers (@espalier-mdm)
options:
  name:
    description:
      - Name of the enrollment, unique on the server, at most 256 characters.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the enrollment, V(absent) deletes it (enrolled devices stay enrolled).
    type: str
    choices: [present, absent]
    default: present
  display_name:
    description:
      - Name shown to the user in the enrollment profile. The server uses O(name) when it is not set at creation.
    type: str
  push_certificate:
    description:
      - The push certificate the enrolled devices use, by id or by name. Required to create an enrollment.
    type: raw
  blueprint:
    description:
      - The blueprint assigned to the enrolled devices, by name or id; V(0) or V('') for none.
    type: raw
  identity_source:
    description:
      - V(builtin) for Espalier's own SCEP CA, V(external) for another SCEP server (O(scep_url), O(scep_challenge)).
    type: str
    choices: [builtin, external]
  attestation:
    description:
      - V(apple) to require Managed Device Attestation at enrollment (the device proves it is a genuine Apple
        device with its serial number and UDID, so a UDID cannot be taken over); V(none) to enroll without it.
      - The server's default for a new enrollment is V(apple).
    type: str
    choices: [apple, none]
  scep_url:
    description:
      - URL of the external SCEP server, required with O(identity_source=external); V('') for none.
    type: str
  scep_challenge:
    description:
      - Challenge of the external SCEP server. A secret, never returned by the API, so it cannot be compared;
        see O(update_scep_challenge).
    type: str
  update_scep_challenge:
    description:
      - V(on_create) sends O(scep_challenge) only when the enrollment is created.
      - V(always) sends it on every run, which then always reports C(changed).
    type: str
    choices: [always, on_create]
    default: on_create
  reusable:
    description:
      - Whether the enrollment link can be used more than once.
    type: bool
  quota:
    description:
      - How many devices may enroll with it; V(0) for no limit.
    type: int
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
notes:
  - C(changed) means the enrollment was created, updated or deleted (or would be, in check mode).
  - The diff shows O(name) and the managed options, before and after; O(scep_challenge) is never shown.
  - In check mode nothing is written and the returned enrollment is the one predicted from the options; the
    server has no dry run, so a value it would refuse (an unknown O(push_certificate) id, a missing O(scep_url))
    is only found when the task runs for real.
  - RV(ota_enrollment.secret) and RV(ota_enrollment.enroll_url) let any device enroll. Set C(no_log) on the task
    when its output is logged somewhere others read.
  - Needs the permissions C(mdm.view_otaenrollment) and C(mdm.add_otaenrollment), C(mdm.change_otaenrollment)
    or C(mdm.delete_otaenrollment).
seealso:
  - module: espalier.mdm.ota_enrollment_info
  - module: espalier.mdm.push_certificate_info
'''

EXAMPLES = r'''
- name: A reusable enrollment for the staff Macs
  espalier.mdm.ota_enrollment:
    name: Staff
    display_name: Example Inc. staff
    push_certificate: Production
    reusable: true
    quota: 500
  register: staff

- name: Show the link
  ansible.builtin.debug:
    msg: "Enroll at {{ staff.ota_enrollment.enroll_url }}"

- name: Devices get their identity from the company SCEP server
  espalier.mdm.ota_enrollment:
    name: Lab
    push_certificate: 1
    identity_source: external
    scep_url: https://scep.example.com/scep
    scep_challenge: "{{ vault_scep_challenge }}"

- name: Devices enrolled through it converge to the staff blueprint
  espalier.mdm.ota_enrollment:
    name: Staff
    blueprint: Staff

- name: Retire an enrollment
  espalier.mdm.ota_enrollment:
    name: Pilot
    state: absent
'''

RETURN = r'''
ota_enrollment:
  description:
    - The enrollment after the task, as M(espalier.mdm.ota_enrollment_info) returns it; empty after O(state=absent).
    - In check mode, the predicted enrollment; on creation, the fields the task does not set (among them
      RV(ota_enrollment.id), RV(ota_enrollment.secret) and RV(ota_enrollment.enroll_url)) are null, as only the
      server knows them.
  returned: success
  type: dict
  contains:
    id:
      description: Id of the enrollment.
      type: int
      sample: 3
    name:
      description: Name.
      type: str
      sample: Staff
    display_name:
      description: Name shown in the enrollment profile.
      type: str
      sample: Example Inc. staff
    push_certificate:
      description: Id of the push certificate.
      type: int
      sample: 1
    blueprint:
      description: Id of the blueprint, null for none.
      type: int
    identity_source:
      description: C(builtin) or C(external).
      type: str
      sample: builtin
    attestation:
      description: C(apple) (Managed Device Attestation required) or C(none).
      type: str
      sample: apple
    scep_url:
      description: URL of the external SCEP server, if any.
      type: str
    reusable:
      description: Whether the link can be used more than once.
      type: bool
      sample: true
    quota:
      description: How many devices may enroll, null for no limit.
      type: int
      sample: 500
    secret:
      description: The enrollment secret, part of RV(ota_enrollment.enroll_url).
      type: str
      sample: 6Dm4xqW1b0yJtGk3Fq9pQ8eT7uVrZ2sA
    enroll_url:
      description: The URL devices open to enroll.
      type: str
      sample: https://mdm.example.com/public/enroll/6Dm4xqW1b0yJtGk3Fq9pQ8eT7uVrZ2sA/
    secret_used_at:
      description: When a one-time link was used, null otherwise.
      type: str
    created_at:
      description: When the enrollment was created.
      type: str
    updated_at:
      description: When it was last changed.
      type: str
diff:
  description: O(name) and the managed options before and after; C(state) when the enrollment is created or deleted.
  returned: changed and diff mode
  type: dict
  sample:
    before: {state: absent}
    after: {state: present, name: Staff, push_certificate: 1, reusable: true, quota: 500}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.enrollments import (
    MANAGED_FIELDS, desired_fields, differs, enrollment_view, find_ota_enrollment, ota_enrollment_path,
    push_certificate_id,
)
from ansible_collections.espalier.mdm.plugins.module_utils.objects import BLUEPRINTS_PATH, id_of

# What check mode returns on creation besides the declared fields: unknown until the server answers.
PREDICTED_ON_CREATE = dict.fromkeys(
    ('id',) + MANAGED_FIELDS + ('secret', 'enroll_url', 'secret_used_at', 'created_at', 'updated_at'))


def run(module, client):
    p = module.params
    name = p['name'].strip()
    current = find_ota_enrollment(client, name)
    if p['state'] == 'absent':
        return _absent(module, client, name, current)

    desired = desired_fields(p)
    if 'push_certificate' in desired:
        desired['push_certificate'] = push_certificate_id(client, desired['push_certificate'])
    if desired.get('blueprint') is not None:
        desired['blueprint'] = id_of(client, BLUEPRINTS_PATH, desired['blueprint'], 'blueprint', module=module)
    keys = ['name'] + sorted(desired)
    send_challenge = p['scep_challenge'] is not None and (current is None or p['update_scep_challenge'] == 'always')

    if current is None:
        body = dict(desired, name=name)
        after = dict(PREDICTED_ON_CREATE, **body)
        verb = 'created'
    else:
        body = {key: desired[key] for key in differs(current, desired)}
        after = dict(current, **body)
        verb = 'updated'
    if current is not None and not body and not send_challenge:
        return dict(changed=False, ota_enrollment=current, msg="OTA enrollment '%s' (#%s) is as declared"
                    % (name, current.get('id')))
    if send_challenge:
        body['scep_challenge'] = p['scep_challenge']
    if not module.check_mode:
        if current is None:
            after = client.post(ota_enrollment_path(), body)
        else:
            after = client.put(ota_enrollment_path(current['id']), body)

    before_view = enrollment_view(current, keys) if current else dict(state='absent')
    after_view = enrollment_view(after, keys)
    if current is None:
        after_view = dict(after_view, state='present')
    return dict(changed=True, ota_enrollment=after, diff=dict(before=before_view, after=after_view),
                msg="OTA enrollment '%s' %s%s" % (name, verb, ' (check mode)' if module.check_mode else ''))


def _absent(module, client, name, current):
    if current is None:
        return dict(changed=False, ota_enrollment={}, msg="OTA enrollment '%s' is absent" % name)
    if not module.check_mode:
        client.request('DELETE', ota_enrollment_path(current['id']))
    before = dict(enrollment_view(current, ('name',) + MANAGED_FIELDS), state='present')
    return dict(changed=True, ota_enrollment={}, diff=dict(before=before, after=dict(state='absent')),
                msg="OTA enrollment '%s' (#%s) deleted%s" % (name, current['id'], ' (check mode)' if module.check_mode else ''))


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            name=dict(type='str', required=True),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            display_name=dict(type='str'),
            push_certificate=dict(type='raw'),
            blueprint=dict(type='raw'),
            identity_source=dict(type='str', choices=['builtin', 'external']),
            attestation=dict(type='str', choices=['apple', 'none']),
            scep_url=dict(type='str'),
            scep_challenge=dict(type='str', no_log=True),
            update_scep_challenge=dict(type='str', choices=['always', 'on_create'], default='on_create'),
            reusable=dict(type='bool'),
            quota=dict(type='int'),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
