#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: push_certificate_info
short_description: List the APNs push certificates of Espalier and how long they have left
version_added: 0.1.0
description:
  - Returns the push certificates of an Espalier server, with their topic, expiry and days left.
  - Without O(id), O(name) or O(topic) every push certificate is returned.
  - A selector that matches nothing returns an empty list, it does not fail.
  - With O(expiring_within_days), only the certificates that expire within that many days are
    returned, so that a scheduled job can fail before a certificate expires (see the examples).
author:
  - Espalier developers (@espalier-mdm)
options:
  id:
    description:
      - Espalier id of one push certificate.
      - O(id), O(name) and O(topic) are mutually exclusive.
    type: int
  name:
    description:
      - Name of the push certificate.
    type: str
  topic:
    description:
      - APNs topic of the push certificate (C(com.apple.mgmt.External.<uuid>)).
    type: str
  expiring_within_days:
    description:
      - Only the push certificates that expire within this many days, that is whose
        RV(push_certificates.days_left) is less than this number. Expired ones are always included.
      - V(30) selects the certificates the server flags as RV(push_certificates.expiring).
    type: int
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
notes:
  - Requires the permission C(mdm.view_pushcertificate).
seealso:
  - module: espalier.mdm.push_certificate
'''

EXAMPLES = r'''
- name: Every push certificate
  espalier.mdm.push_certificate_info:
  register: push

- name: Days left of each
  ansible.builtin.debug:
    msg: "{{ push.push_certificates | items2dict(key_name='name', value_name='days_left') }}"

- name: Push certificates that expire within 45 days
  espalier.mdm.push_certificate_info:
    expiring_within_days: 45
  register: expiring

# In a scheduled CI job: fail while there is still time to renew.
- name: No push certificate expires within 45 days
  ansible.builtin.assert:
    that: expiring.push_certificates | length == 0
    fail_msg: >-
      Renew in Apple's portal (Renew, not Create a Certificate), then run espalier.mdm.renew_push_certificate:
      {% for pc in expiring.push_certificates %}{{ pc.name }} ({{ pc.topic }}) has {{ pc.days_left }} days left. {% endfor %}

- name: One push certificate by topic
  espalier.mdm.push_certificate_info:
    topic: com.apple.mgmt.External.0b6f3c2e-5d1a-4c59-9d0e-1f2a3b4c5d6e
'''

RETURN = r'''
push_certificates:
  description: The push certificates, by id, as the API returns them.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Id of the push certificate.
      type: int
      sample: 1
    name:
      description: Name.
      type: str
      sample: Production
    topic:
      description: APNs topic, the UID of the certificate's subject.
      type: str
      sample: com.apple.mgmt.External.0b6f3c2e-5d1a-4c59-9d0e-1f2a3b4c5d6e
    not_before:
      description: Start of validity (UTC).
      type: str
      sample: "2025-02-01T08:30:00"
    not_after:
      description: Expiry (UTC).
      type: str
      sample: "2026-02-01T08:30:00"
    days_left:
      description: Whole days until the expiry, negative once expired.
      type: int
      sample: 12
    expiring:
      description: Whether it expires within 30 days.
      type: bool
      sample: true
    status:
      description: C(ok), C(error) (APNs refused it) or C(expired).
      type: str
      sample: ok
    status_message:
      description: Why APNs refused it, if it did.
      type: str
    certificate:
      description: The certificate in PEM form.
      type: str
    created_at:
      description: When it was added.
      type: str
    updated_at:
      description: When it was last renewed.
      type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError, api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.push_certificates import (
    get_push_certificate, list_push_certificates,
)


def run(module, client):
    p = module.params
    within = p['expiring_within_days']
    if within is not None and within < 0:
        raise EspalierModuleError('expiring_within_days must be 0 or more, not %d' % within)
    if p['id'] is not None:
        found = get_push_certificate(client, p['id'])
        certificates = [found] if found else []
    else:
        certificates = list_push_certificates(client, name=p['name'], topic=p['topic'])
    if within is not None:
        certificates = [pc for pc in certificates if pc.get('days_left') is None or pc['days_left'] < within]
    certificates.sort(key=lambda pc: pc.get('id') or 0)
    return dict(changed=False, push_certificates=certificates)


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            id=dict(type='int'),
            name=dict(type='str'),
            topic=dict(type='str'),
            expiring_within_days=dict(type='int'),
        ),
        mutually_exclusive=[('id', 'name', 'topic')],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
