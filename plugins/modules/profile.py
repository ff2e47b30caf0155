#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: profile
short_description: Declare a configuration profile artifact of Espalier
version_added: 0.3.0
description:
  - Creates, updates or deletes a profile artifact, matched by O(name), and its versions. The artifact is what
    a blueprint carries (M(espalier.mdm.blueprint_artifact)); each version holds one C(.mobileconfig).
  - A run with the same file as the newest version reports no change. A different file makes a new version, which
    replaces the previous one on the devices in scope.
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
      - Path of the C(.mobileconfig) (signed or not) on the host the module runs on; the collection's modules run on
        the controller. Mutually exclusive with O(content). One of them is required with O(state=present).
    type: path
  content:
    description:
      - The C(.mobileconfig) itself, as text (an unsigned profile, for instance from a template).
    type: str
  platforms:
    description:
      - The platforms the profile is for, among C(iOS), C(iPadOS), C(macOS) and C(tvOS). Required to create the artifact.
    type: list
    elements: str
  channel:
    description:
      - V(Device) for a device profile, V(User) for one installed in the user's channel.
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
  - The server refuses a file that is not a configuration profile, an encrypted one, and FileVault escrow payloads
    (the server makes those itself); check mode reads the file but the server's checks run only when the task runs
    for real.
  - Needs the permissions C(mdm.view_artifact), C(mdm.view_profile) and the matching add, change or delete ones.
seealso:
  - module: espalier.mdm.profile_info
  - module: espalier.mdm.blueprint_artifact
'''

EXAMPLES = r'''
- name: The Wi-Fi profile of the staff Macs
  espalier.mdm.profile:
    name: Staff Wi-Fi
    source: files/staff-wifi.mobileconfig
    platforms: [macOS]
  no_log: true  # the profile holds the Wi-Fi password

- name: A profile from a template
  espalier.mdm.profile:
    name: Login window
    content: "{{ lookup('ansible.builtin.template', 'loginwindow.mobileconfig.j2') }}"
    platforms: [macOS]
    min_os_versions: {macOS: "14.0"}
'''

RETURN = r'''
profile:
  description: The artifact after the task (predicted in check mode); empty after O(state=absent).
  returned: success
  type: dict
  sample: {id: 0b4d6c36-6a3c-4c14-a8d3-45c6f1ae2a6e, name: Staff Wi-Fi, type: Profile, channel: Device, platforms: [macOS]}
version:
  description: The newest version of the artifact, without its source, and C(source_sha256), the SHA-256 of the file.
  returned: success and O(state=present)
  type: dict
  sample: {id: 6f1c2f8e-8d6b-4d0e-9c39-2b7b8a1b3c11, artifact: 0b4d6c36-6a3c-4c14-a8d3-45c6f1ae2a6e, version: 2,
           macos: true, source_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}
'''

import base64
import hashlib

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError, api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.objects import (
    ARTIFACTS_PATH, PROFILES_PATH, artifact_outcome, changed_fields, ensure, ensure_absent, find_by_name,
    object_path, scope_fields, versions_of,
)

ARTIFACT_FIELDS = ('name', 'type', 'channel', 'platforms', 'requires', 'install_during_setup_assistant', 'auto_update',
                   'reinstall_interval', 'reinstall_on_os_update')


def _source(p):
    if p['content'] is not None:
        return to_bytes(p['content'])
    try:
        with open(p['source'], 'rb') as f:
            return f.read()
    except OSError as ex:
        raise EspalierModuleError('source: cannot read %s: %s' % (p['source'], ex))


def _version(module, client, artifact, raw, platforms):
    p = module.params
    sha = hashlib.sha256(raw).hexdigest()
    versions = versions_of(client, artifact['id']) if artifact.get('id') else []
    newest = versions[0] if versions else None
    scope = scope_fields(platforms or artifact.get('platforms') or [], p['min_os_versions'], p['max_os_versions'])
    if newest is not None and newest['source_sha256'] == sha:
        keys = changed_fields(newest, scope)
        if not keys:
            return False, newest, None
        body = dict({k: newest.get(k) for k in scope}, artifact=artifact['id'], version=newest['version'],
                    source=base64.b64encode(raw).decode(), **scope)
        after = dict(newest, **scope)
        if not module.check_mode:
            after = dict(client.put(object_path(PROFILES_PATH, newest['id']), body), source_sha256=sha)
            after.pop('source', None)
        return True, after, dict(before={k: newest.get(k) for k in keys}, after={k: after.get(k) for k in keys})
    number = (newest['version'] if newest else 0) + 1
    body = dict(scope, artifact=artifact.get('id'), version=number, source=base64.b64encode(raw).decode())
    after = dict(scope, id=None, artifact=artifact.get('id'), version=number, source_sha256=sha)
    if not module.check_mode:
        after = dict(client.post(PROFILES_PATH, body), source_sha256=sha)
        after.pop('source', None)
    before = dict(version=newest['version'], source_sha256=newest['source_sha256']) if newest else dict(version=None)
    return True, after, dict(before=before, after=dict(version=number, source_sha256=sha))


def run(module, client):
    p = module.params
    name = p['name'].strip()
    current = find_by_name(client, ARTIFACTS_PATH, name)
    if p['state'] == 'absent':
        result = ensure_absent(module, client, ARTIFACTS_PATH, current, 'profile', name, ('name', 'channel', 'platforms'))
        result['profile'] = result.pop('object')
        return result
    if p['source'] is None and p['content'] is None:
        raise EspalierModuleError('one of source and content is required with state=present')
    raw = _source(p)
    if current is not None and current.get('type') != 'Profile':
        raise EspalierModuleError("artifact '%s' is a %s, not a profile" % (name, current.get('type')))
    desired = dict(name=name, type='Profile', channel=p['channel'], platforms=p['platforms'])
    if current is None and not p['platforms']:
        raise EspalierModuleError('platforms is required to create a profile')
    result = ensure(module, client, ARTIFACTS_PATH, current, desired, 'profile', ARTIFACT_FIELDS)
    artifact = result.pop('object')
    changed, version, diff = _version(module, client, artifact, raw, p['platforms'])
    return artifact_outcome(module, result, changed, diff, 'profile', name, dict(profile=artifact, version=version))


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            name=dict(type='str', required=True),
            source=dict(type='path'),
            content=dict(type='str'),
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
