#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: push_certificate
short_description: Add or renew an APNs push certificate of Espalier
version_added: 0.1.0
description:
  - Uploads an APNs push certificate and its private key to Espalier.
  - The topic of a push certificate (the UID of its subject) is what enrolled devices know.
    Renewing the certificate in Apple's portal (B(Renew)) keeps the topic; creating a new one
    (B(Create a Certificate)) gives a new topic, and every device would have to enroll again.
    So the topic is what this module matches on.
  - If a push certificate with the topic of O(certificate) exists, it is renewed with O(certificate)
    (and renamed to O(name) if its name differs). Nothing is written when it already has this very
    certificate (same SHA-256 fingerprint) and this name.
  - If the push certificate named O(name) has another topic, the task fails and explains that
    the certificate was created, not renewed, in Apple's portal.
  - If neither the topic nor the name exists, the push certificate is added.
  - The topic and dates are read from O(certificate) on the host that runs the module, with the
    Python C(cryptography) library when it can be imported, else with a small built-in DER reader;
    nothing beyond the Python standard library is required, and no C(openssl) binary.
author:
  - Espalier developers (@espalier-mdm)
options:
  name:
    description:
      - Name of the push certificate in Espalier.
      - A renewed certificate takes this name. At most 256 characters.
    type: str
    required: true
  certificate:
    description:
      - The push certificate in PEM form, as downloaded from Apple's portal (its content, not a path;
        use P(ansible.builtin.file#lookup) to read a file).
      - If the text holds several certificates, the first one is the push certificate.
    type: str
    required: true
  private_key:
    description:
      - The private key of the certificate in PEM form (its content), for example C(push.key)
        from C(espalier mdmcerts req).
      - Never compared (the API does not return it); the server checks that it matches O(certificate)
        when it is written.
    type: str
    required: true
  private_key_password:
    description:
      - Password of O(private_key), when it is encrypted.
    type: str
  force:
    description:
      - Renew even with a certificate that expires before the current one or is already expired. Without it
        the server refuses such a renewal (an older download by mistake would cut the devices off sooner),
        and so does check mode.
    type: bool
    default: false
  state:
    description:
      - V(present) is the only state, push certificates are not deleted through the API.
    type: str
    choices: [present]
    default: present
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
notes:
  - C(changed) means a push certificate was added or renewed (or would be, in check mode).
  - In check mode nothing is sent; RV(push_certificate) is predicted from O(certificate), and the
    private key and its password are not checked.
  - Requires the permissions C(mdm.view_pushcertificate) and C(mdm.add_pushcertificate) or
    C(mdm.change_pushcertificate).
seealso:
  - module: espalier.mdm.push_certificate_info
  - name: Apple Push Certificates Portal
    description: Where push certificates are renewed (Renew, not Create a Certificate).
    link: https://identity.apple.com/pushcert
'''

EXAMPLES = r'''
- name: Upload the push certificate renewed in Apple's portal
  espalier.mdm.push_certificate:
    name: Production
    certificate: "{{ lookup('ansible.builtin.file', 'MDM_Espalier_Certificate.pem') }}"
    private_key: "{{ lookup('ansible.builtin.file', 'mdmcerts/push.key') }}"
    private_key_password: "{{ vault_push_key_password }}"
  register: renewal

- name: Days left
  ansible.builtin.debug:
    msg: "{{ renewal.push_certificate.topic }} expires {{ renewal.push_certificate.not_after }}
      ({{ renewal.push_certificate.days_left }} days)"

- name: Preview the renewal (run with --check --diff)
  espalier.mdm.push_certificate:
    name: Production
    certificate: "{{ lookup('ansible.builtin.file', 'MDM_Espalier_Certificate.pem') }}"
    private_key: "{{ lookup('ansible.builtin.file', 'mdmcerts/push.key') }}"
    private_key_password: "{{ vault_push_key_password }}"
  check_mode: true
  diff: true
'''

RETURN = r'''
push_certificate:
  description: The push certificate after the upload (predicted in check mode), as M(espalier.mdm.push_certificate_info) returns it.
  returned: success
  type: dict
  contains:
    id:
      description: Id of the push certificate (null in check mode when it would be added).
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
      sample: 364
    expiring:
      description: Whether it expires within 30 days.
      type: bool
      sample: false
    status:
      description: C(ok), C(error) (APNs refused it, see RV(push_certificate.status_message)) or C(expired).
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
diff:
  description: Name, topic, validity and SHA-256 fingerprint of the certificate, before and after.
  returned: changed and diff mode
  type: dict
  sample:
    before: {name: Production, topic: com.apple.mgmt.External.0b6f, not_before: "2024-02-01T08:30:00",
             not_after: "2025-02-01T08:30:00", fingerprint: 9d3ba349e928}
    after: {name: Production, topic: com.apple.mgmt.External.0b6f, not_before: "2025-02-01T08:30:00",
            not_after: "2026-02-01T08:30:00", fingerprint: 1e86f1f740d4}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import (
    EspalierModuleError, api_argument_spec, run_module,
)
from ansible_collections.espalier.mdm.plugins.module_utils.certificates import CertificateError, read_push_certificate
from ansible_collections.espalier.mdm.plugins.module_utils.push_certificates import (
    DIFF_KEYS, certificate_view, describe, list_push_certificates, predicted, push_certificate_path, renewal_refusal,
)
from ansible_collections.espalier.mdm.plugins.module_utils.state import converge

MAX_NAME = 256  # the server's limit


def find_target(certificates, name, topic):
    """The push certificate to renew (same topic), None to add one; fails when name has another topic."""
    by_topic = next((pc for pc in certificates if pc.get('topic') == topic), None)
    by_name = next((pc for pc in certificates if pc.get('name') == name), None)
    if by_name is not None and by_name.get('topic') != topic:
        owner = ''
        if by_topic is not None:
            owner = " That topic belongs to push certificate '%s' (#%s): to renew it, give its name." % (
                by_topic.get('name'), by_topic.get('id'))
        raise EspalierModuleError(
            "push certificate '%s' (#%s) has topic %s, but the given certificate's topic is %s: it was "
            "created, not renewed, in Apple's portal. Renew the existing certificate there (Renew, not Create "
            "a Certificate) so the topic stays the same and the enrolled devices keep receiving notifications, "
            "or give another name to add a new push certificate.%s"
            % (by_name.get('name'), by_name.get('id'), by_name.get('topic'), topic, owner))
    return by_topic


def run(module, client):
    p = module.params
    name = p['name'].strip()
    if not name or len(name) > MAX_NAME:
        raise EspalierModuleError('name must be 1 to %d characters, not %d' % (MAX_NAME, len(name)))
    try:
        read = read_push_certificate(p['certificate'])
    except CertificateError as ex:
        raise EspalierModuleError(str(ex)) from None
    current = find_target(list_push_certificates(client), name, read['topic'])
    body = dict(name=name, certificate=p['certificate'], private_key=p['private_key'])
    if p['private_key_password']:
        body['private_key_password'] = p['private_key_password']

    def apply():
        if current is None:
            return client.post(push_certificate_path(), body)
        return client.put(push_certificate_path(current['id']), dict(body, force=p['force']))

    def predict():
        refusal = None if p['force'] else renewal_refusal(current, read)
        if refusal:
            raise EspalierModuleError('cannot renew %s: %s' % (describe(current), refusal))
        return predicted(current, name, p['certificate'], read)

    outcome = converge(module, current, dict(name=name, topic=read['topic'], fingerprint=read['fingerprint']),
                       apply, predict,
                       view=certificate_view, diff_keys=list(DIFF_KEYS))
    pc = outcome.applied
    if not outcome.changed:
        msg = '%s already has this certificate, %s days left' % (describe(pc), pc.get('days_left'))
    else:
        verb = 'added' if current is None else 'renewed'
        msg = '%s %s%s: expires %s, %s days left' % (
            describe(pc) if pc.get('id') else "push certificate '%s' (topic %s)" % (name, read['topic']),
            verb, ' (check mode)' if module.check_mode else '', pc.get('not_after'), pc.get('days_left'))
    result = dict(changed=outcome.changed, push_certificate=pc, msg=msg)
    if outcome.changed:
        result['diff'] = outcome.diff
    return result


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            name=dict(type='str', required=True),
            certificate=dict(type='str', required=True),
            private_key=dict(type='str', required=True, no_log=True),
            private_key_password=dict(type='str', no_log=True),
            force=dict(type='bool', default=False),
            state=dict(type='str', choices=['present'], default='present'),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
