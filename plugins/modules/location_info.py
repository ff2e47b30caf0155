#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: location_info
short_description: List the Apps and Books locations of Espalier and how long their tokens have left
version_added: 0.1.0
description:
  - Returns the Apps and Books locations of an Espalier server, with their token's expiry and days left.
  - Without O(id), O(name) or O(organization_name) every location is returned.
  - A selector that matches nothing returns an empty list, it does not fail.
  - With O(expiring_within_days), only the locations whose token expires within that many days are returned.
author:
  - Espalier developers (@espalier-mdm)
options:
  id:
    description:
      - Espalier id of one location.
      - O(id) excludes O(name) and O(organization_name).
    type: int
  name:
    description:
      - Name of the location.
    type: str
  organization_name:
    description:
      - Organisation of the location's token.
    type: str
  expiring_within_days:
    description:
      - Only the locations whose C(days_left) is less than this number. Expired ones are always included.
    type: int
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
notes:
  - Requires the permission C(mdm.view_location).
seealso:
  - module: espalier.mdm.location
  - module: espalier.mdm.location_asset_info
'''

EXAMPLES = r'''
- name: Fail a scheduled job before an Apps and Books token expires
  espalier.mdm.location_info:
    expiring_within_days: 30
  register: expiring
  failed_when: expiring.locations | length > 0
'''

RETURN = r'''
locations:
  description: The locations, by id, as M(espalier.mdm.location) returns one.
  returned: always
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError, api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.locations import get_location, list_locations


def run(module, client):
    p = module.params
    within = p['expiring_within_days']
    if within is not None and within < 0:
        raise EspalierModuleError('expiring_within_days must be 0 or more, not %d' % within)
    if p['id'] is not None:
        found = get_location(client, p['id'])
        locations = [found] if found else []
    else:
        locations = list_locations(client, name=p['name'], organization_name=p['organization_name'])
    if within is not None:
        locations = [loc for loc in locations if loc.get('days_left') is None or loc['days_left'] < within]
    locations.sort(key=lambda loc: loc.get('id') or 0)
    return dict(changed=False, locations=locations)


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            id=dict(type='int'),
            name=dict(type='str'),
            organization_name=dict(type='str'),
            expiring_within_days=dict(type='int'),
        ),
        mutually_exclusive=[('id', 'name'), ('id', 'organization_name')],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
