#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: declaration_info
short_description: List the declaration artifacts of Espalier, with their versions and where they stand
version_added: 0.3.0
description:
  - Returns the declaration artifacts of the server (types C(Activation), C(Asset), C(Configuration) and C(Management)),
    each with its versions (newest first, without their source) and, per version, how many devices have it pending,
    installed, failed or removed.
  - Without O(name) every declaration artifact is returned. A name that matches nothing returns an empty list.
author:
  - Espalier developers (@espalier-mdm)
options:
  name:
    description:
      - Name of one declaration artifact.
    type: str
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
notes:
  - Needs the permissions C(mdm.view_artifact), C(mdm.view_declaration) and C(mdm.view_deviceartifact).
seealso:
  - module: espalier.mdm.declaration
  - module: espalier.mdm.device_artifact_info
'''

EXAMPLES = r'''
- name: Where the passcode declaration stands
  espalier.mdm.declaration_info:
    name: Passcode
  register: passcode

- name: No device failed it
  ansible.builtin.assert:
    that: passcode.declarations[0].versions[0].counts.failed == 0
'''

RETURN = r'''
declarations:
  description: The declaration artifacts, as M(espalier.mdm.declaration) returns one, with C(versions).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 0b4d6c36-6a3c-4c14-a8d3-45c6f1ae2a6e
      name: Passcode
      type: Configuration
      platforms: [macOS]
      versions:
        - {id: 6f1c2f8e-8d6b-4d0e-9c39-2b7b8a1b3c11, version: 2, macos: true, identifier: com.example.passcode,
           type: com.apple.configuration.passcode.settings,
           source_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08,
           counts: {pending: 3, installed: 120, failed: 1, removed: 0}}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.objects import (
    ARTIFACTS_PATH, DECLARATION_ARTIFACT_TYPES, declaration_versions_of, find_by_name,
)


def run(module, client):
    name = module.params['name']
    artifacts = [find_by_name(client, ARTIFACTS_PATH, name.strip())] if name is not None else client.list_all(ARTIFACTS_PATH)
    out = []
    for artifact in artifacts:
        if not artifact or artifact.get('type') not in DECLARATION_ARTIFACT_TYPES.values():
            continue
        versions = declaration_versions_of(client, artifact['id'])
        for version in versions:
            version['counts'] = client.get('api/mdm/artifact_versions/%s/status/' % version['id']).get('counts', {})
        out.append(dict(artifact, versions=versions))
    return dict(changed=False, declarations=out)


def main():
    module = AnsibleModule(argument_spec=api_argument_spec(name=dict(type='str')), supports_check_mode=True)
    run_module(module, run)


if __name__ == '__main__':
    main()
