#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: blueprint
short_description: Declare a blueprint of Espalier
version_added: 0.3.0
description:
  - Creates, updates or deletes a blueprint, matched by O(name). A blueprint is the configuration its
    devices converge to; M(espalier.mdm.blueprint_artifact) puts artifacts (profiles) on it,
    M(espalier.mdm.ota_enrollment) and M(espalier.mdm.device) assign it. It may also point at a FileVault configuration,
    a recovery password configuration and OS update enforcements.
  - Only the options the task sets are managed; a second run with the same options reports no change.
author:
  - Espalier developers (@espalier-mdm)
options:
  name:
    description:
      - Name of the blueprint, unique on the server.
    type: str
    required: true
  inventory_interval:
    description:
      - Seconds between two inventory collections of a device, from 14400 (4 hours) to 604800 (a week).
    type: int
  collect_apps:
    description:
      - Which installed applications the inventory collects.
    type: str
    choices: [none, managed_only, all]
  collect_certificates:
    description:
      - Which installed certificates the inventory collects.
    type: str
    choices: [none, managed_only, all]
  collect_profiles:
    description:
      - Which installed configuration profiles the inventory collects.
    type: str
    choices: [none, managed_only, all]
  filevault_config:
    description:
      - The FileVault configuration of its Macs (M(espalier.mdm.filevault_config)), by name or id; V('') for none.
    type: str
  recovery_password_config:
    description:
      - The recovery password configuration of its Macs (M(espalier.mdm.recovery_password_config)), by name or id;
        V('') for none.
    type: str
  software_update_enforcements:
    description:
      - The OS update enforcements of its devices (M(espalier.mdm.software_update_enforcement)), by name or id; the
        whole list (V([]) for none).
    type: list
    elements: str
  legacy_profiles_via_ddm:
    description:
      - Whether devices that support declarative device management get the blueprint's configuration profiles through
        it (C(com.apple.configuration.legacy) declarations) rather than InstallProfile commands. The server's default
        is V(true), as Zentral's.
    type: bool
  state:
    description:
      - V(present) creates or updates the blueprint, V(absent) deletes it; the server refuses to delete a blueprint
        that an enrollment or an enrolled device uses.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
notes:
  - The API stores the C(collect_*) options as Zentral's numbers (0 none, 1 managed only, 2 all); RV(blueprint) shows them so.
  - In check mode, a configuration or an enforcement that does not exist yet stands for itself, by name, with a warning
    (an earlier task of the run would create it); for real, an unknown name fails.
  - The task fails when it sets O(filevault_config), O(recovery_password_config), O(software_update_enforcements) or
    O(legacy_profiles_via_ddm) and the server's blueprints do not have that field (a server that does not implement it).
  - Needs the permissions C(mdm.view_blueprint) and C(mdm.add_blueprint), C(mdm.change_blueprint) or C(mdm.delete_blueprint),
    and the view permission of the configurations and enforcements it names.
seealso:
  - module: espalier.mdm.blueprint_info
  - module: espalier.mdm.blueprint_artifact
  - module: espalier.mdm.filevault_config
  - module: espalier.mdm.recovery_password_config
  - module: espalier.mdm.software_update_enforcement
'''

EXAMPLES = r'''
- name: The blueprint of the staff Macs
  espalier.mdm.blueprint:
    name: Staff
    inventory_interval: 86400
    collect_apps: managed_only
    collect_profiles: all

- name: FileVault, a recovery lock and an OS deadline on the staff Macs
  espalier.mdm.blueprint:
    name: Staff
    filevault_config: Staff FileVault
    recovery_password_config: Staff recovery lock
    software_update_enforcements: [macOS 14.6.1]
    legacy_profiles_via_ddm: true
'''

RETURN = r'''
blueprint:
  description: The blueprint after the task (predicted in check mode); empty after O(state=absent).
  returned: success
  type: dict
  sample: {id: 2, name: Staff, inventory_interval: 86400, collect_apps: 1, collect_certificates: 0, collect_profiles: 2,
           filevault_config: 1, recovery_password_config: 1, software_update_enforcements: [3], legacy_profiles_via_ddm: true,
           created_at: "2024-06-01T08:00:00", updated_at: "2024-06-01T08:00:00"}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError, api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.objects import (
    BLUEPRINTS_PATH, CLEARED, FILEVAULT_CONFIGS_PATH, RECOVERY_PASSWORD_CONFIGS_PATH, SOFTWARE_UPDATE_ENFORCEMENTS_PATH,
    ensure, ensure_absent, find_by_name, id_of,
)

COLLECT = dict(none=0, managed_only=1, all=2)
FIELDS = ('name', 'inventory_interval', 'collect_apps', 'collect_certificates', 'collect_profiles')
# the fields a PUT sends back as they are when the server has them (Zentral's BlueprintSerializer)
WRITABLE = FIELDS + ('default_location', 'filevault_config', 'recovery_password_config', 'software_update_enforcements',
                     'legacy_profiles_via_ddm')
CONFIGS = dict(filevault_config=(FILEVAULT_CONFIGS_PATH, 'FileVault configuration'),
               recovery_password_config=(RECOVERY_PASSWORD_CONFIGS_PATH, 'recovery password configuration'))


def _config(module, client, option):
    value = module.params[option]
    if value is None:
        return None
    if not str(value).strip():
        return CLEARED
    path, noun = CONFIGS[option]
    return id_of(client, path, value, option, noun, module)


def _enforcements(module, client):
    names = module.params['software_update_enforcements']
    if names is None:
        return None
    ids = [id_of(client, SOFTWARE_UPDATE_ENFORCEMENTS_PATH, n, 'software_update_enforcements',
                 'software update enforcement', module) for n in names]
    return sorted(set(ids), key=lambda i: (isinstance(i, str), i))


def _unanswered(blueprint, desired):
    return [f for f in WRITABLE[len(FIELDS):] if desired.get(f) is not None and f not in blueprint]


def _implemented(current, desired):
    """A server whose blueprints lack a declared field would ignore it, and every run would report a change."""
    unknown = _unanswered(current, desired) if current is not None else []
    if unknown:
        raise EspalierModuleError("the server's blueprints have no %s: it does not implement %s"
                                  % (', '.join(unknown), 'them' if len(unknown) > 1 else 'it'))


def run(module, client):
    p = module.params
    name = p['name'].strip()
    current = find_by_name(client, BLUEPRINTS_PATH, name)
    if p['state'] == 'absent':
        result = ensure_absent(module, client, BLUEPRINTS_PATH, current, 'blueprint', name, FIELDS)
    else:
        desired = dict(name=name, inventory_interval=p['inventory_interval'])
        for field in FIELDS[2:]:
            desired[field] = COLLECT[p[field]] if p[field] is not None else None
        desired.update(filevault_config=_config(module, client, 'filevault_config'),
                       recovery_password_config=_config(module, client, 'recovery_password_config'),
                       software_update_enforcements=_enforcements(module, client),
                       legacy_profiles_via_ddm=p['legacy_profiles_via_ddm'])
        _implemented(current, desired)
        result = ensure(module, client, BLUEPRINTS_PATH, current, desired, 'blueprint', WRITABLE)
        if current is None and not module.check_mode:
            unknown = _unanswered(result['object'], desired)
            if unknown:
                module.warn("the server's blueprints have no %s: it ignored them" % ', '.join(unknown))
    result['blueprint'] = result.pop('object')
    return result


def main():
    collect = dict(type='str', choices=list(COLLECT))
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            name=dict(type='str', required=True),
            inventory_interval=dict(type='int'),
            collect_apps=collect, collect_certificates=dict(collect), collect_profiles=dict(collect),
            filevault_config=dict(type='str'),
            recovery_password_config=dict(type='str', no_log=False),
            software_update_enforcements=dict(type='list', elements='str'),
            legacy_profiles_via_ddm=dict(type='bool'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
