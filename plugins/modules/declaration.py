#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: declaration
short_description: Declare a declarative device management (DDM) declaration artifact of Espalier
version_added: 0.3.0
description:
  - Creates, updates or deletes a declaration artifact, matched by O(name), and its versions. The artifact is what a
    blueprint carries (M(espalier.mdm.blueprint_artifact)); each version holds one declaration, a dictionary with
    C(Type), C(Identifier) and C(Payload), which the devices in scope get through declarative device management
    (iOS 15, macOS 13 or later).
  - The artifact's type follows the declaration's C(Type) (C(com.apple.configuration.*) makes a C(Configuration)
    artifact, C(com.apple.activation.*) an C(Activation), C(com.apple.asset.*) an C(Asset), C(com.apple.management.*) a
    C(Management) one).
  - The declaration is compared as data, whatever its key order, spacing or format (JSON or YAML), and without its
    C(ServerToken), which the server makes. A run with the same declaration as the newest version reports no change;
    a different one makes a new version, which replaces the previous one on the devices in scope.
author:
  - Espalier developers (@espalier-mdm)
options:
  name:
    description:
      - Name of the artifact, unique on the server.
    type: str
    required: true
  source:
    description:
      - Path of a JSON or YAML file that holds the declaration, on the host the module runs on (the collection's modules
        run on the controller). Mutually exclusive with O(content). One of them is required with O(state=present).
    type: path
  content:
    description:
      - The declaration itself, as a dictionary (from the task's YAML) or as JSON or YAML text.
    type: raw
  platforms:
    description:
      - The platforms the declaration is for, among C(iOS), C(iPadOS), C(macOS) and C(tvOS). Required to create the
        artifact.
    type: list
    elements: str
  channel:
    description:
      - V(Device) for the device channel, V(User) for the user channel of a Mac (Espalier sends declarations on the
        device channel only and refuses V(User)).
    type: str
    choices: [Device, User]
    default: Device
  min_os_versions:
    description:
      - Per platform, the lowest OS version that gets the new version (for example V(macOS) mapped to V(14.0)).
    type: dict
  max_os_versions:
    description:
      - Per platform, the first OS version that no longer gets the new version.
    type: dict
  state:
    description:
      - V(present) creates or updates the artifact and its newest version, V(absent) deletes the artifact; the server
        refuses while a blueprint lists it or a device has it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
notes:
  - Check mode reads the declaration and compares it with the newest version; the server's checks of the declaration
    run only when the task runs for real.
  - Needs the permissions C(mdm.view_artifact), C(mdm.view_declaration) and the matching add, change or delete ones.
seealso:
  - module: espalier.mdm.declaration_info
  - module: espalier.mdm.blueprint_artifact
  - module: espalier.mdm.profile
'''

EXAMPLES = r'''
- name: A passcode policy, as a declaration written in the task
  espalier.mdm.declaration:
    name: Passcode
    platforms: [macOS, iOS]
    content:
      Type: com.apple.configuration.passcode.settings
      Identifier: com.example.passcode
      Payload:
        MinimumLength: 8
        RequireAlphanumericPasscode: true

- name: A declaration from a JSON file
  espalier.mdm.declaration:
    name: Status subscriptions
    source: files/status-subscriptions.json
    platforms: [macOS]
    min_os_versions: {macOS: "14.0"}
'''

RETURN = r'''
declaration:
  description: The artifact after the task (predicted in check mode); empty after O(state=absent).
  returned: success
  type: dict
  sample: {id: 0b4d6c36-6a3c-4c14-a8d3-45c6f1ae2a6e, name: Passcode, type: Configuration, channel: Device,
           platforms: [iOS, macOS]}
version:
  description:
    - The newest version of the artifact without its source, with C(source_sha256), the SHA-256 of the declaration's
      canonical JSON (sorted keys, no spaces, no C(ServerToken)), and, from the server, C(type), C(identifier) and
      C(server_token).
  returned: success and O(state=present)
  type: dict
  sample: {id: 6f1c2f8e-8d6b-4d0e-9c39-2b7b8a1b3c11, artifact: 0b4d6c36-6a3c-4c14-a8d3-45c6f1ae2a6e, version: 2, macos: true,
           type: com.apple.configuration.passcode.settings, identifier: com.example.passcode,
           server_token: 6f1c2f8e-8d6b-4d0e-9c39-2b7b8a1b3c11-2,
           source_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}
'''

import json
import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError, api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.objects import (
    ARTIFACTS_PATH, DECLARATION_ARTIFACT_TYPES, DECLARATIONS_PATH, artifact_outcome, canonical_declaration,
    changed_fields, declaration_sha256, declaration_versions_of, ensure, ensure_absent, find_by_name,
    object_path, scope_fields,
)

try:
    import yaml
except ImportError:
    yaml = None
    YAML_IMPORT_ERROR = traceback.format_exc()
else:
    YAML_IMPORT_ERROR = None

ARTIFACT_FIELDS = ('name', 'type', 'channel', 'platforms', 'requires', 'install_during_setup_assistant', 'auto_update',
                   'reinstall_interval', 'reinstall_on_os_update')


def _parse(module, text, where):
    try:
        return json.loads(text)
    except ValueError:
        pass
    if yaml is None:
        module.fail_json(msg=missing_required_lib('PyYAML') + ' (%s is not JSON)' % where, exception=YAML_IMPORT_ERROR)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as ex:
        raise EspalierModuleError('%s: neither JSON nor YAML: %s' % (where, ex))


def read_declaration(module):
    p = module.params
    if isinstance(p['content'], dict):
        declaration = p['content']
    elif p['content'] is not None:
        declaration = _parse(module, str(p['content']), 'content')
    else:
        try:
            with open(p['source'], 'rb') as f:
                text = f.read().decode('utf-8')
        except (OSError, UnicodeDecodeError) as ex:
            raise EspalierModuleError('source: cannot read %s: %s' % (p['source'], ex))
        declaration = _parse(module, text, os.path.basename(p['source']))
    declaration = canonical_declaration(declaration)
    kind = str(declaration.get('Type') or '').split('.')
    if len(kind) < 4 or kind[:2] != ['com', 'apple'] or kind[2] not in DECLARATION_ARTIFACT_TYPES:
        raise EspalierModuleError("the declaration's Type must be com.apple.<activation|asset|configuration|"
                                  "management>.<name>, not %r" % declaration.get('Type'))
    if not isinstance(declaration.get('Identifier'), str) or not declaration['Identifier'].strip():
        raise EspalierModuleError('the declaration has no Identifier')
    if not isinstance(declaration.get('Payload', {}), dict):
        raise EspalierModuleError("the declaration's Payload must be a dictionary")
    declaration_sha256(declaration)  # fails on what JSON cannot carry, before anything is written
    return declaration, DECLARATION_ARTIFACT_TYPES[kind[2]]


def _version(module, client, artifact, declaration, platforms):
    p = module.params
    sha = declaration_sha256(declaration)
    versions = declaration_versions_of(client, artifact['id']) if artifact.get('id') else []
    newest = versions[0] if versions else None
    scope = scope_fields(platforms or artifact.get('platforms') or [], p['min_os_versions'], p['max_os_versions'])
    if newest is not None and newest['source_sha256'] == sha:
        keys = changed_fields(newest, scope)
        if not keys:
            return False, newest, None
        # a PUT is whole: the version's other scope fields go back as they are
        kept = {k: newest[k] for k in ('shard_modulo', 'default_shard', 'excluded_tags', 'tag_shards') if k in newest}
        body = dict(kept, artifact=artifact['id'], version=newest['version'], source=declaration, **scope)
        after = dict(newest, **scope)
        if not module.check_mode:
            after = dict(client.put(object_path(DECLARATIONS_PATH, newest['id']), body), source_sha256=sha)
            after.pop('source', None)
        return True, after, dict(before={k: newest.get(k) for k in keys}, after={k: after.get(k) for k in keys})
    number = (newest['version'] if newest else 0) + 1
    body = dict(scope, artifact=artifact.get('id'), version=number, source=declaration)
    after = dict(scope, id=None, artifact=artifact.get('id'), version=number, type=declaration['Type'],
                 identifier=declaration['Identifier'], server_token=None, source_sha256=sha)
    if not module.check_mode:
        after = dict(client.post(DECLARATIONS_PATH, body), source_sha256=sha)
        after.pop('source', None)
    before = (dict(version=newest['version'], source_sha256=newest['source_sha256']) if newest
              else dict(version=None))
    return True, after, dict(before=before, after=dict(version=number, source_sha256=sha))


def run(module, client):
    p = module.params
    name = p['name'].strip()
    current = find_by_name(client, ARTIFACTS_PATH, name)
    if current is not None and current.get('type') not in DECLARATION_ARTIFACT_TYPES.values():
        raise EspalierModuleError("artifact '%s' is a %s, not a declaration" % (name, current.get('type')))
    if p['state'] == 'absent':
        result = ensure_absent(module, client, ARTIFACTS_PATH, current, 'declaration', name,
                               ('name', 'type', 'channel', 'platforms'))
        result['declaration'] = result.pop('object')
        return result
    if p['source'] is None and p['content'] is None:
        raise EspalierModuleError('one of source and content is required with state=present')
    declaration, artifact_type = read_declaration(module)
    if current is not None and current.get('type') != artifact_type:
        raise EspalierModuleError("artifact '%s' is a %s artifact; a %s declaration needs a %s one (use another name)"
                                  % (name, current.get('type'), declaration['Type'], artifact_type))
    if current is None and not p['platforms']:
        raise EspalierModuleError('platforms is required to create a declaration')
    desired = dict(name=name, type=artifact_type, channel=p['channel'], platforms=p['platforms'])
    result = ensure(module, client, ARTIFACTS_PATH, current, desired, 'declaration', ARTIFACT_FIELDS)
    artifact = result.pop('object')
    changed, version, diff = _version(module, client, artifact, declaration, p['platforms'])
    return artifact_outcome(module, result, changed, diff, 'declaration', name, dict(declaration=artifact, version=version))


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            name=dict(type='str', required=True),
            source=dict(type='path'),
            content=dict(type='raw'),
            platforms=dict(type='list', elements='str'),
            channel=dict(type='str', choices=['Device', 'User'], default='Device'),
            min_os_versions=dict(type='dict'),
            max_os_versions=dict(type='dict'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
        ),
        mutually_exclusive=[('source', 'content')],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
