#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: software_update_info
short_description: List Espalier's copy of Apple's software update catalogue
version_added: 0.3.0
description:
  - Returns the OS updates of Apple's catalogue as the server last synced it (C(GET /api/mdm/software_updates/)),
    newest first for each platform, every field the API gives.
  - Entries with C(public=false) come from Apple's C(AssetSets), the releases MDM may enforce; C(public=true) ones
    from C(PublicAssetSets) (and background security improvements, whose C(extra) is set).
  - An empty catalogue (never synced, see M(espalier.mdm.software_updates_sync)) returns an empty list.
author:
  - Espalier developers (@espalier-mdm)
options:
  platform:
    description:
      - Only the entries of this platform, as Apple names it (C(macOS), C(iOS) for iPhones and iPads, C(xrOS), ...).
    type: str
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
notes:
  - Needs the permission C(mdm.view_softwareupdate).
seealso:
  - module: espalier.mdm.software_updates_sync
'''

EXAMPLES = r'''
- name: The macOS releases MDM may enforce
  espalier.mdm.software_update_info:
    platform: macOS
  register: catalogue

- name: The newest one
  ansible.builtin.debug:
    msg: "{{ (catalogue.software_updates | rejectattr('public') | first).build }}"
'''

RETURN = r'''
software_updates:
  description: The catalogue entries.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 12
      platform: macOS
      major: 15
      minor: 1
      patch: 0
      extra: ""
      prerequisite_build: ""
      build: 24B83
      public: false
      posting_date: "2024-10-28"
      expiration_date: null
      supported_devices: [J274AP, J313AP]
      created_at: "2024-10-29T02:00:00.123456"
      updated_at: "2024-10-29T02:00:00.123456"
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.software_updates import SOFTWARE_UPDATES_PATH


def run(module, client):
    platform = module.params['platform']
    params = dict(platform=platform.strip()) if platform and platform.strip() else None
    return dict(changed=False, software_updates=client.list_all(SOFTWARE_UPDATES_PATH, params))


def main():
    module = AnsibleModule(argument_spec=api_argument_spec(platform=dict(type='str')), supports_check_mode=True)
    run_module(module, run)


if __name__ == '__main__':
    main()
