#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: dep_token
short_description: Request, upload or renew an ADE (ABM/ASM "DEP") server token in Espalier
version_added: 0.2.0
description:
  - With O(action=request), the server makes a key pair and returns the certificate to upload to ABM/ASM
    (C(POST /api/mdm/dep/tokens/)); with O(virtual_server), the key pair is the renewal of that server's token
    (C(POST /api/mdm/dep/virtual_servers/<id>/renew_token/)).
  - With O(action=upload), the C(*_smime.p7m) downloaded from ABM/ASM after uploading that certificate is sent
    (C(POST /api/mdm/dep/tokens/<id>/upload/)); the server opens it, checks it with Apple and creates or updates the
    virtual server. A renewal must be for the same server, else the server refuses it and nothing changes.
author:
  - Espalier developers (@espalier-mdm)
options:
  action:
    description:
      - What to do.
    type: str
    choices: [request, upload]
    required: true
  virtual_server:
    description:
      - With O(action=request), renew the token of this virtual server (its id) instead of making a new one.
    type: int
  token_id:
    description:
      - With O(action=upload), the token the p7m was made for (the RV(token.id) of the request).
    type: int
  p7m:
    description:
      - With O(action=upload), the content of the C(*_smime.p7m), for example from C(lookup('file', ...)).
      - It holds the server's OAuth credentials; it is never logged.
    type: str
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is requested or sent.
  diff_mode:
    support: none
notes:
  - O(action=request) needs C(mdm.add_depvirtualserver), or C(mdm.change_depvirtualserver) for a renewal;
    O(action=upload) needs C(mdm.add_depvirtualserver) for a new server, C(mdm.change_depvirtualserver) for a renewal.
  - Every run changes something (a new key pair, or the token uploaded again).
seealso:
  - module: espalier.mdm.dep_virtual_server_info
  - module: espalier.mdm.dep_sync
'''

EXAMPLES = r'''
- name: Request a server token; upload the certificate to ABM
  espalier.mdm.dep_token:
    action: request
  register: request

- name: Keep the certificate to upload to ABM
  ansible.builtin.copy:
    content: "{{ request.token.certificate }}"
    dest: ./espalier_dep_token.pem
    mode: "0644"

- name: Upload the token downloaded from ABM
  espalier.mdm.dep_token:
    action: upload
    token_id: "{{ request.token.id }}"
    p7m: "{{ lookup('ansible.builtin.file', 'Espalier_Token_smime.p7m') }}"
  no_log: true
'''

RETURN = r'''
token:
  description: The token, with the certificate to upload to ABM/ASM, after O(action=request) (null in check mode).
  returned: when O(action=request)
  type: dict
  contains:
    id:
      description: Id of the token, for O(action=upload).
      type: int
    certificate:
      description: The certificate (PEM) to upload to ABM/ASM.
      type: str
    virtual_server:
      description: The virtual server it belongs to, for a renewal.
      type: int
    access_token_expiry:
      description: When the uploaded token expires.
      type: str
    expiring:
      description: Whether it expires within 30 days.
      type: bool
virtual_server:
  description: The virtual server created or updated, after O(action=upload) (null in check mode).
  returned: when O(action=upload)
  type: dict
  sample: {id: 1, name: Espalier MDM, uuid: 8265BE4B-F097-4E03-8093-172E01056866}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError, api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.dep import TOKENS_PATH, virtual_server_path


def run(module, client):
    p = module.params
    if p['action'] == 'request':
        if p['token_id'] is not None or p['p7m'] is not None:
            raise EspalierModuleError('token_id and p7m are for action=upload')
        if module.check_mode:
            return dict(changed=True, token=None, msg='a token would be requested (check mode)')
        if p['virtual_server'] is not None:
            token = client.post(virtual_server_path(p['virtual_server'], 'renew_token'))
        else:
            token = client.post(TOKENS_PATH)
        return dict(changed=True, token=token, msg='token %s requested: upload its certificate to ABM' % token['id'])
    if p['token_id'] is None or not p['p7m']:
        raise EspalierModuleError('action=upload needs token_id and p7m')
    if module.check_mode:
        return dict(changed=True, virtual_server=None, msg='the token would be uploaded (check mode)')
    server = client.post('%s%d/upload/' % (TOKENS_PATH, p['token_id']), dict(token=p['p7m']))
    return dict(changed=True, virtual_server=server,
                msg='token %d uploaded: virtual server %s (%s)' % (p['token_id'], server.get('name'), server.get('uuid')))


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            action=dict(type='str', choices=['request', 'upload'], required=True),
            virtual_server=dict(type='int'),
            token_id=dict(type='int'),
            p7m=dict(type='str', no_log=True),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
