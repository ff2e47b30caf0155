#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: blueprint_artifact_info
short_description: List the artifacts blueprints of Espalier carry, with their scope
version_added: 0.3.0
description:
  - Returns the blueprint artifacts of the server, every field the API gives, optionally of one O(blueprint).
  - A blueprint that carries nothing returns an empty list; an unknown blueprint name fails.
author:
  - Espalier developers (@espalier-mdm)
options:
  blueprint:
    description:
      - Only the artifacts of this blueprint, by name or id.
    type: str
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
notes:
  - Needs the permissions C(mdm.view_blueprintartifact) (and C(mdm.view_blueprint) for a blueprint by name).
seealso:
  - module: espalier.mdm.blueprint_artifact
'''

EXAMPLES = r'''
- name: What the staff blueprint carries
  espalier.mdm.blueprint_artifact_info:
    blueprint: Staff
  register: staff
'''

RETURN = r'''
blueprint_artifacts:
  description: The blueprint artifacts, as M(espalier.mdm.blueprint_artifact) returns one.
  returned: always
  type: list
  elements: dict
  sample:
    - {id: 5, blueprint: 2, artifact: 0b4d6c36-6a3c-4c14-a8d3-45c6f1ae2a6e, macos: true, shard_modulo: 100,
       default_shard: 100, excluded_tags: [], tag_shards: []}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.objects import BLUEPRINT_ARTIFACTS_PATH, BLUEPRINTS_PATH, id_of


def run(module, client):
    blueprint = module.params['blueprint']
    blueprint_id = id_of(client, BLUEPRINTS_PATH, blueprint, 'blueprint') if blueprint is not None else None
    items = [i for i in client.list_all(BLUEPRINT_ARTIFACTS_PATH) if blueprint_id is None or i.get('blueprint') == blueprint_id]
    return dict(changed=False, blueprint_artifacts=items)


def main():
    module = AnsibleModule(argument_spec=api_argument_spec(blueprint=dict(type='str')), supports_check_mode=True)
    run_module(module, run)


if __name__ == '__main__':
    main()
