#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: location_asset_info
short_description: List the Apps and Books assets of Espalier's locations with their licence counts
version_added: 0.1.0
description:
  - Returns the assets (apps and books) of the locations, with the number of licences assigned,
    available, retired and in total, as of the last sync or notification.
  - Filters are combined; a filter that matches nothing returns an empty list.
author:
  - Espalier developers (@espalier-mdm)
options:
  adam_id:
    description:
      - The asset's App Store id.
    type: str
  pricing_param:
    description:
      - The asset's pricing parameter (C(STDQ) standard quality, C(PLUS) high quality).
    type: str
  location_id:
    description:
      - Only the assets of this location (an unknown id fails, as the API refuses it).
    type: int
  available_below:
    description:
      - Only the assets with fewer available licences than this number.
    type: int
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
notes:
  - Requires the permission C(mdm.view_locationasset).
seealso:
  - module: espalier.mdm.location
  - module: espalier.mdm.location_info
'''

EXAMPLES = r'''
- name: Licences running out
  espalier.mdm.location_asset_info:
    available_below: 5
  register: low
'''

RETURN = r'''
location_assets:
  description: The location assets, by id.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Id of the location asset.
      type: int
    location:
      description: Id of the location.
      type: int
    asset:
      description: Id of the asset (one per adam id and pricing parameter, shared by the locations).
      type: int
    assigned_count:
      description: Licences assigned.
      type: int
    available_count:
      description: Licences available.
      type: int
    retired_count:
      description: Licences retired.
      type: int
    total_count:
      description: Licences in total.
      type: int
    created_at:
      description: When the asset was first seen in the location.
      type: str
    updated_at:
      description: When its counts last changed.
      type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.locations import list_location_assets


def run(module, client):
    p = module.params
    found = list_location_assets(client, adam_id=p['adam_id'], pricing_param=p['pricing_param'],
                                 location_id=p['location_id'])
    if p['available_below'] is not None:
        found = [la for la in found if la.get('available_count', 0) < p['available_below']]
    found.sort(key=lambda la: la.get('id') or 0)
    return dict(changed=False, location_assets=found)


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            adam_id=dict(type='str'),
            pricing_param=dict(type='str'),
            location_id=dict(type='int'),
            available_below=dict(type='int'),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
