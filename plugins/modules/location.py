#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: location
short_description: Upload or renew the Apps and Books token (sToken) of a location in Espalier
version_added: 0.1.0
description:
  - Uploads a C(.vpptoken) downloaded from Apple Business Manager or Apple School Manager
    (B(Preferences) > B(Payments and Billing)) to Espalier.
  - The server asks Apple which location the token is for (its library uid), claims the location for
    itself (Apple then sends it the licence notifications) and stores the token encrypted.
  - A location is its library uid. A token for a location Espalier has renews that location (same id,
    same RV(location.mdm_info_id)); a new location is added otherwise. Nothing is written when the location
    already has this very token and is claimed by this server.
  - The module first asks the server for a dry run (C(?dry_run=1)); the server reads the location's config
    at Apple with the token and says what the upload would do, so check mode predicts what a real run does
    (a token Apple refuses, or a location another MDM server manages, fails in check mode too).
author:
  - Espalier developers (@espalier-mdm)
options:
  server_token:
    description:
      - The content of the C(.vpptoken) file (base64 text; use P(ansible.builtin.file#lookup) to read
        a file on the controller).
      - Exactly one of O(server_token) and O(server_token_path) is required.
    type: str
  server_token_path:
    description:
      - Path of the C(.vpptoken) file on the host that runs the module.
    type: path
  force:
    description:
      - Take over a location that another MDM server manages (that server stops receiving its
        notifications). Without it the server refuses, and so does check mode.
    type: bool
    default: false
  state:
    description:
      - V(present) is the only state; locations are deleted with the API (C(DELETE /api/mdm/locations/<id>/)).
    type: str
    choices: [present]
    default: present
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
notes:
  - C(changed) means a location was added or its token renewed (or would be, in check mode).
  - The token is never returned, compared here or shown in a diff; the server compares a keyed hash of it.
  - Requires the permissions C(mdm.add_location) and C(mdm.change_location).
seealso:
  - module: espalier.mdm.location_info
  - module: espalier.mdm.location_asset_info
'''

EXAMPLES = r'''
- name: Upload the token of the Paris location
  espalier.mdm.location:
    server_token: "{{ lookup('ansible.builtin.file', 'sToken_for_Paris.vpptoken') }}"
  register: paris

- name: Days left
  ansible.builtin.debug:
    msg: "{{ paris.location.name }}: token expires {{ paris.location.server_token_expiration_date }}
      ({{ paris.location.days_left }} days)"

- name: Preview a renewal (run with --check --diff)
  espalier.mdm.location:
    server_token_path: /secure/sToken_for_Paris.vpptoken
  check_mode: true
  diff: true
'''

RETURN = r'''
location:
  description: The location after the upload (predicted in check mode), as M(espalier.mdm.location_info) returns it.
  returned: success
  type: dict
  contains:
    id:
      description: Id of the location (0 in check mode when it would be added).
      type: int
      sample: 3
    name:
      description: The location's name at Apple.
      type: str
      sample: Paris
    organization_name:
      description: The organisation of the token.
      type: str
    country_code:
      description: ISO 3166-1 alpha-2 country of the location.
      type: str
      sample: FR
    library_uid:
      description: Apple's id of the location's library.
      type: str
    platform:
      description: C(enterprisestore) or C(volumestore).
      type: str
    website_url:
      description: Apple's website for the location.
      type: str
    mdm_info_id:
      description: The id this server gave Apple for itself (the notification URL names it).
      type: str
    server_token_expiration_date:
      description: When the token expires (UTC).
      type: str
      sample: "2026-05-04T10:00:00"
    days_left:
      description: Whole days until the token expires, negative once expired.
      type: int
    expiring:
      description: Whether it expires within 30 days.
      type: bool
    created_at:
      description: When it was added.
      type: str
    updated_at:
      description: When it was last changed.
      type: str
action:
  description: C(created), C(renewed) or C(unchanged).
  returned: success
  type: str
diff:
  description: The location's fields before and after (never the token).
  returned: changed and diff mode
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.espalier.mdm.plugins.module_utils.api import (
    EspalierModuleError, api_argument_spec, run_module,
)
from ansible_collections.espalier.mdm.plugins.module_utils.locations import (
    DIFF_KEYS, LOCATIONS_PATH, describe, get_location, location_view,
)
from ansible_collections.espalier.mdm.plugins.module_utils.state import build_diff


def read_token(params):
    if params['server_token_path']:
        try:
            with open(params['server_token_path'], 'rb') as f:
                return to_text(f.read(64 * 1024)).strip()
        except (IOError, OSError) as ex:
            raise EspalierModuleError('cannot read server_token_path %s: %s' % (params['server_token_path'], ex))
    return params['server_token'].strip()


def run(module, client):
    p = module.params
    body = dict(server_token=read_token(p), force=p['force'])
    dry = client.post(LOCATIONS_PATH, body, params=dict(dry_run=1))
    action, preview = dry.get('action'), dry.get('location') or {}
    current = get_location(client, preview['id']) if action != 'created' and preview.get('id') else None
    if not dry.get('changed'):
        loc = current or preview
        return dict(changed=False, action='unchanged', location=loc,
                    msg='%s already has this token, %s days left' % (describe(loc), loc.get('days_left')))
    loc = preview if module.check_mode else client.post(LOCATIONS_PATH, body)
    diff = build_diff(location_view(current), location_view(loc), list(DIFF_KEYS))
    msg = '%s %s%s: token expires %s, %s days left' % (
        describe(loc), action, ' (check mode)' if module.check_mode else '',
        loc.get('server_token_expiration_date'), loc.get('days_left'))
    return dict(changed=True, action=action, location=loc, diff=diff, msg=msg)


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            server_token=dict(type='str', no_log=True),
            server_token_path=dict(type='path'),
            force=dict(type='bool', default=False),
            state=dict(type='str', choices=['present'], default='present'),
        ),
        required_one_of=[('server_token', 'server_token_path')],
        mutually_exclusive=[('server_token', 'server_token_path')],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
