#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: store_app
short_description: Declare an App Store app artifact of Espalier, licensed through Apps and Books
version_added: 0.4.0
description:
  - Creates, updates or deletes a C(Store App) artifact, matched by O(name), and its newest version. The artifact is
    what a blueprint carries (M(espalier.mdm.blueprint_artifact)); its version names the app (O(adam_id) and
    O(pricing_param), an asset of an Apps and Books location, see M(espalier.mdm.location_asset_info)) and how
    C(InstallApplication) installs it.
  - Devices in scope get a licence first (the server asks Apple to assign the asset to their serial number, in batches),
    then the app, confirmed by the device's managed application list. A device that leaves the scope has the app removed
    and its licence given back.
  - The newest version is updated in place when the app, its options or its scope change; the devices that have it get
    C(InstallApplication) again with the new options. A second run with the same declaration reports no change.
author:
  - Espalier developers (@espalier-mdm)
options:
  name:
    description:
      - Name of the artifact, unique on the server.
    type: str
    required: true
  adam_id:
    description:
      - The app's App Store id (its adam id, the digits of its App Store URL). Required with O(state=present).
    type: str
  pricing_param:
    description:
      - The licence kind of the asset, V(STDQ) (standard) or V(PLUS) (volume pricing for education).
    type: str
    default: STDQ
  location:
    description:
      - The Apps and Books location whose licences are used, by name or id. Required when more than one location has
        the asset.
    type: str
  platforms:
    description:
      - The platforms the app is for, among C(iOS), C(iPadOS), C(macOS) and C(tvOS). Required to create the artifact.
    type: list
    elements: str
  min_os_versions:
    description:
      - Per platform, the lowest OS version that gets the app (for example V(iOS) mapped to V(17.0)).
    type: dict
  max_os_versions:
    description:
      - Per platform, the first OS version that no longer gets the app.
    type: dict
  configuration:
    description:
      - The managed app configuration, as a dictionary or as the text of a property list dictionary. Sent to the
        device with the app. Kept encrypted on the server, and hidden from the task's output (Ansible masks each of its
        values wherever it appears in the result, so short values such as V(1) mask more than the configuration).
    type: raw
  associated_domains:
    description:
      - Associated domains of the app (for example V(applinks:example.com)).
    type: list
    elements: str
    default: []
  associated_domains_enable_direct_downloads:
    description:
      - Whether the associated domains download data directly, bypassing Apple's CDN.
    type: bool
    default: false
  removable:
    description:
      - Whether the user may remove the app (iOS, iPadOS, tvOS 14 or later).
    type: bool
    default: false
  remove_on_unenroll:
    description:
      - Whether the app is removed with the MDM profile.
    type: bool
    default: true
  prevent_backup:
    description:
      - Whether the app's data is kept out of iCloud backups (iOS, iPadOS).
    type: bool
    default: false
  vpn_uuid:
    description:
      - The per-app VPN of the app (the VPNUUID of an installed VPN payload).
    type: str
  content_filter_uuid:
    description:
      - The per-app content filter of the app.
    type: str
  dns_proxy_uuid:
    description:
      - The per-app DNS proxy of the app.
    type: str
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
  - Check mode reads the artifact, its versions and the location's assets and reports what would change; the server's
    own checks of the version run only when the task runs for real.
  - Needs the permissions C(mdm.view_artifact), C(mdm.view_storeapp), C(mdm.view_locationasset) and the matching add,
    change or delete ones.
seealso:
  - module: espalier.mdm.location
  - module: espalier.mdm.location_asset_info
  - module: espalier.mdm.blueprint_artifact
'''

EXAMPLES = r'''
- name: Keynote on every Mac and iPad of the blueprint
  espalier.mdm.store_app:
    name: Keynote
    adam_id: "361285480"
    platforms: [macOS, iPadOS]

- name: An app with its managed configuration, licensed by one location
  espalier.mdm.store_app:
    name: Field app
    adam_id: "1234567890"
    location: Paris office
    platforms: [iOS]
    min_os_versions: {iOS: "17.0"}
    removable: false
    configuration:
      ServerURL: https://field.example.com
      Department: Sales
'''

RETURN = r'''
store_app:
  description: The artifact after the task (predicted in check mode); empty after O(state=absent).
  returned: success
  type: dict
  sample: {id: 0b4d6c36-6a3c-4c14-a8d3-45c6f1ae2a6e, name: Keynote, type: Store App, channel: Device,
           platforms: [iPadOS, macOS]}
version:
  description:
    - The newest version of the artifact, without its configuration (C(configuration_set) says whether it has one).
  returned: success and O(state=present)
  type: dict
  sample: {id: 6f1c2f8e-8d6b-4d0e-9c39-2b7b8a1b3c11, artifact: 0b4d6c36-6a3c-4c14-a8d3-45c6f1ae2a6e, version: 1,
           location_asset: 3, macos: true, ipados: true, removable: false, remove_on_unenroll: true,
           configuration_set: false}
'''

import plistlib

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError, api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.locations import list_location_assets, list_locations
from ansible_collections.espalier.mdm.plugins.module_utils.objects import (
    ARTIFACTS_PATH, CLEARED, artifact_outcome, changed_fields, ensure, ensure_absent, find_by_name,
    object_path, scope_fields, without_secret,
)

STORE_APPS_PATH = 'api/mdm/store_apps/'
ARTIFACT_FIELDS = ('name', 'type', 'channel', 'platforms', 'requires', 'install_during_setup_assistant', 'auto_update',
                   'reinstall_interval', 'reinstall_on_os_update')
OPTIONS = ('associated_domains', 'associated_domains_enable_direct_downloads', 'removable', 'remove_on_unenroll',
           'prevent_backup', 'vpn_uuid', 'content_filter_uuid', 'dns_proxy_uuid')
UUIDS = ('vpn_uuid', 'content_filter_uuid', 'dns_proxy_uuid')
KEPT = ('shard_modulo', 'default_shard', 'excluded_tags', 'tag_shards')


def read_configuration(value):
    """The configuration as a dictionary (None: none), from a dictionary or plist text."""
    if value is None or value == '' or value == {}:
        return None
    if isinstance(value, dict):
        try:
            plistlib.dumps(value)
        except (TypeError, OverflowError) as ex:
            raise EspalierModuleError('configuration: cannot be a property list: %s' % ex)
        return value
    try:
        parsed = plistlib.loads(str(value).encode('utf-8'))
    except Exception as ex:  # plistlib raises several kinds on bad text
        raise EspalierModuleError('configuration: not a property list: %s' % ex)
    if not isinstance(parsed, dict):
        raise EspalierModuleError('configuration: the property list must be a dictionary')
    return parsed


def _server_configuration(text):
    try:
        return read_configuration(text)
    except EspalierModuleError:
        return text  # unreadable here: different from anything declared


def location_asset(client, adam_id, pricing_param, location):
    location_id = None
    if location is not None:
        if str(location).isdigit():
            location_id = int(location)
        else:
            found = list_locations(client, name=location)
            if not found:
                raise EspalierModuleError("no Apps and Books location is named '%s'" % location)
            location_id = found[0]['id']
    assets = list_location_assets(client, adam_id=adam_id, pricing_param=pricing_param, location_id=location_id)
    if not assets:
        raise EspalierModuleError('no location has the asset %s (%s): buy it in Apps and Books, then sync the '
                                  'location' % (adam_id, pricing_param))
    if len(assets) > 1:
        raise EspalierModuleError('%d locations have the asset %s (%s): set location to choose one'
                                  % (len(assets), adam_id, pricing_param))
    return assets[0]


def _newest(client, artifact_id):
    if not artifact_id:
        return None
    versions = [v for v in client.list_all(STORE_APPS_PATH) if v.get('artifact') == artifact_id]
    return max(versions, key=lambda v: v.get('version') or 0) if versions else None


def _view(version):
    return without_secret(version, 'configuration') if version else version


def _version(module, client, artifact, la, configuration, platforms):
    p = module.params
    desired = dict(scope_fields(platforms or artifact.get('platforms') or [], p['min_os_versions'],
                                p['max_os_versions']), location_asset=la['id'], **{k: p[k] for k in OPTIONS})
    for key in UUIDS:  # the server keeps them lower case; an unset one is cleared
        desired[key] = p[key].strip().lower() if p[key] and p[key].strip() else CLEARED
    sent = {k: None if v is CLEARED else v for k, v in desired.items()}
    newest = _newest(client, artifact.get('id'))
    text = plistlib.dumps(configuration).decode('utf-8') if configuration is not None else None
    if newest is not None:
        keys = changed_fields(newest, desired)
        if _server_configuration(newest.get('configuration')) != configuration:
            keys.append('configuration')
        if not keys:
            return False, newest, None
        body = dict({k: newest[k] for k in KEPT if k in newest}, artifact=artifact['id'], version=newest['version'],
                    configuration=text, **sent)
        after = dict(newest, **dict(sent, configuration=text))
        if not module.check_mode:
            after = client.put(object_path(STORE_APPS_PATH, newest['id']), body)
        shown = [k for k in keys if k != 'configuration']
        before_view = {k: newest.get(k) for k in shown}
        after_view = {k: after.get(k) for k in shown}
        if 'configuration' in keys:
            before_view['configuration_set'] = bool(newest.get('configuration'))
            after_view['configuration_set'] = text is not None
            before_view['configuration_changed'], after_view['configuration_changed'] = False, True
        return True, after, dict(before=before_view, after=after_view)
    body = dict(sent, artifact=artifact.get('id'), version=1, configuration=text)
    after = dict(body, id=None)
    if not module.check_mode:
        after = client.post(STORE_APPS_PATH, body)
    return True, after, dict(before=dict(version=None), after=dict(version=1, location_asset=la['id']))


def run(module, client):
    p = module.params
    name = p['name'].strip()
    current = find_by_name(client, ARTIFACTS_PATH, name)
    if current is not None and current.get('type') != 'Store App':
        raise EspalierModuleError("artifact '%s' is a %s, not a store app" % (name, current.get('type')))
    if p['state'] == 'absent':
        result = ensure_absent(module, client, ARTIFACTS_PATH, current, 'store app', name,
                               ('name', 'type', 'channel', 'platforms'))
        result['store_app'] = result.pop('object')
        return result
    if not p['adam_id']:
        raise EspalierModuleError('adam_id is required with state=present')
    if current is None and not p['platforms']:
        raise EspalierModuleError('platforms is required to create a store app')
    configuration = read_configuration(p['configuration'])
    la = location_asset(client, p['adam_id'].strip(), p['pricing_param'], p['location'])
    desired = dict(name=name, type='Store App', channel='Device', platforms=p['platforms'])
    result = ensure(module, client, ARTIFACTS_PATH, current, desired, 'store app', ARTIFACT_FIELDS)
    artifact = result.pop('object')
    changed, version, diff = _version(module, client, artifact, la, configuration, p['platforms'])
    return artifact_outcome(module, result, changed, diff, 'store app', name, dict(store_app=artifact, version=_view(version)))


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            name=dict(type='str', required=True),
            adam_id=dict(type='str'),
            pricing_param=dict(type='str', default='STDQ'),
            location=dict(type='str'),
            platforms=dict(type='list', elements='str'),
            min_os_versions=dict(type='dict'),
            max_os_versions=dict(type='dict'),
            configuration=dict(type='raw', no_log=True),
            associated_domains=dict(type='list', elements='str', default=[]),
            associated_domains_enable_direct_downloads=dict(type='bool', default=False),
            removable=dict(type='bool', default=False),
            remove_on_unenroll=dict(type='bool', default=True),
            prevent_backup=dict(type='bool', default=False),
            vpn_uuid=dict(type='str'),
            content_filter_uuid=dict(type='str'),
            dns_proxy_uuid=dict(type='str'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
