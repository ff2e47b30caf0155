#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: blueprint_artifact
short_description: Put an artifact on a blueprint of Espalier, with its scope
version_added: 0.3.0
description:
  - Declares that the devices of O(blueprint) get O(artifact) (a profile of M(espalier.mdm.profile) or a declaration of
    M(espalier.mdm.declaration)), on the
    platforms, tags and share of the fleet given. Devices converge at their next contact; the server pushes them.
  - Matched by the pair O(blueprint), O(artifact). A second run with the same options reports no change.
author:
  - Espalier developers (@espalier-mdm)
options:
  blueprint:
    description:
      - The blueprint, by name or id.
    type: str
    required: true
  artifact:
    description:
      - The artifact, by name.
    type: str
    required: true
  platforms:
    description:
      - The platforms in scope, among the artifact's; required on creation.
    type: list
    elements: str
  min_os_versions:
    description:
      - Per platform, the lowest OS version in scope (for example V(macOS) mapped to V(14.0)).
    type: dict
  max_os_versions:
    description:
      - Per platform, the first OS version out of scope.
    type: dict
  tags:
    description:
      - Only devices with one of these tags (by name) are in scope, unless O(default_shard) says otherwise.
      - V([]) for no tag rule.
    type: list
    elements: str
  excluded_tags:
    description:
      - Devices with one of these tags (by name) are never in scope.
    type: list
    elements: str
  shard_modulo:
    description:
      - The number of shards the fleet is divided in (1 to 100); with O(default_shard) it stages a rollout.
    type: int
  default_shard:
    description:
      - Devices whose shard is below this number are in scope (0 to O(shard_modulo)). Defaults to 0 when O(tags)
        are given (only the tagged devices), to the server's default (everyone) otherwise.
    type: int
  state:
    description:
      - V(present) puts the artifact on the blueprint; V(absent) takes it off, and the devices lose it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
notes:
  - A tagged device is in scope when its shard is below O(shard_modulo) (all of them); C(tag_shards) with other
    shards can be set through the API.
  - Needs the permissions C(mdm.view_blueprintartifact) and the matching add, change or delete one, and C(inventory.view_tag)
    with O(tags) or O(excluded_tags).
seealso:
  - module: espalier.mdm.blueprint_artifact_info
  - module: espalier.mdm.profile
  - module: espalier.mdm.declaration
  - module: espalier.mdm.tag
'''

EXAMPLES = r'''
- name: Staff Macs get the Wi-Fi profile
  espalier.mdm.blueprint_artifact:
    blueprint: Staff
    artifact: Staff Wi-Fi
    platforms: [macOS]

- name: The new login window settings, on the pilot Macs only
  espalier.mdm.blueprint_artifact:
    blueprint: Staff
    artifact: Login window
    platforms: [macOS]
    tags: [pilot]
    excluded_tags: [kiosk]
'''

RETURN = r'''
blueprint_artifact:
  description: The blueprint artifact after the task (predicted in check mode); empty after O(state=absent).
  returned: success
  type: dict
  sample: {id: 5, blueprint: 2, artifact: 0b4d6c36-6a3c-4c14-a8d3-45c6f1ae2a6e, macos: true, ios: false, shard_modulo: 100,
           default_shard: 0, excluded_tags: [7], tag_shards: [{tag: 4, shard: 100}]}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError, api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.objects import (
    ARTIFACTS_PATH, BLUEPRINT_ARTIFACTS_PATH, BLUEPRINTS_PATH, ensure, ensure_absent, find_by_name, id_of, scope_fields,
    tag_ids,
)

SCOPE_FIELDS = tuple('%s%s' % (p, s) for p in ('ios', 'ipados', 'macos', 'tvos') for s in ('', '_min_version', '_max_version'))
WRITABLE = ('blueprint', 'artifact') + SCOPE_FIELDS + ('shard_modulo', 'default_shard', 'excluded_tags', 'tag_shards')


def find_blueprint_artifact(client, blueprint_id, artifact_id):
    return next((i for i in client.list_all(BLUEPRINT_ARTIFACTS_PATH)
                 if i.get('blueprint') == blueprint_id and i.get('artifact') == artifact_id), None)


def desired_fields(module, client, p, current):
    desired = dict(scope_fields(p['platforms'], p['min_os_versions'], p['max_os_versions']))
    desired.update(shard_modulo=p['shard_modulo'], default_shard=p['default_shard'])
    if p['excluded_tags'] is not None:
        desired['excluded_tags'] = tag_ids(client, p['excluded_tags'], 'excluded_tags', module)
    if p['tags'] is not None:
        modulo = p['shard_modulo'] or (current or {}).get('shard_modulo') or 100
        desired['tag_shards'] = [dict(tag=t, shard=modulo) for t in tag_ids(client, p['tags'], 'tags', module)]
        if p['default_shard'] is None:
            desired['default_shard'] = 0 if p['tags'] else modulo
    return desired


def run(module, client):
    p = module.params
    blueprint_id = id_of(client, BLUEPRINTS_PATH, p['blueprint'], 'blueprint', module=module)
    name = p['artifact'].strip()
    artifact = find_by_name(client, ARTIFACTS_PATH, name)
    if artifact is None and p['state'] == 'present':
        if not module.check_mode:
            raise EspalierModuleError("artifact: no artifact named '%s'" % name)
        module.warn("artifact: no artifact named '%s' yet; check mode assumes an earlier task creates it" % name)
    current = (find_blueprint_artifact(client, blueprint_id, artifact['id'])
               if artifact and isinstance(blueprint_id, int) else None)
    label = '%s on blueprint %s' % (p['artifact'], p['blueprint'])
    if p['state'] == 'absent':
        result = ensure_absent(module, client, BLUEPRINT_ARTIFACTS_PATH, current, 'artifact', label, WRITABLE)
    else:
        if current is None and not p['platforms']:
            raise EspalierModuleError('platforms is required to put an artifact on a blueprint')
        desired = dict(desired_fields(module, client, p, current), blueprint=blueprint_id,
                       artifact=artifact['id'] if artifact else name)
        result = ensure(module, client, BLUEPRINT_ARTIFACTS_PATH, current, desired, 'artifact', WRITABLE, label)
    result['blueprint_artifact'] = result.pop('object')
    return result


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            blueprint=dict(type='str', required=True),
            artifact=dict(type='str', required=True),
            platforms=dict(type='list', elements='str'),
            min_os_versions=dict(type='dict'),
            max_os_versions=dict(type='dict'),
            tags=dict(type='list', elements='str'),
            excluded_tags=dict(type='list', elements='str'),
            shard_modulo=dict(type='int'),
            default_shard=dict(type='int'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
