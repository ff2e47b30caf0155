#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: software_update_enforcement
short_description: Declare an OS update enforcement of Espalier
version_added: 0.3.0
description:
  - Creates, updates or deletes a software update enforcement, matched by O(name). The blueprints that list it
    (M(espalier.mdm.blueprint) O(espalier.mdm.blueprint#module:software_update_enforcements)) have their devices
    install an OS version by a deadline, through a declaration
    (C(com.apple.configuration.softwareupdate.enforcement.specific), iOS 17 and macOS 14 or later).
  - Two modes, as in Zentral. One-time, with O(os_version) (and optionally O(build_version)) by O(local_datetime).
    Latest, with O(max_os_version), the newest release below it O(delay_days) after it came out, at O(local_time).
    Declaring the options of one mode clears those of the other.
  - Only the options the task sets are managed; a second run with the same options reports no change.
author:
  - Espalier developers (@espalier-mdm)
options:
  name:
    description:
      - Name of the enforcement, unique on the server.
    type: str
    required: true
  platforms:
    description:
      - The platforms it is for, among C(iOS), C(iPadOS), C(macOS) and C(tvOS). Required to create it.
    type: list
    elements: str
  tags:
    description:
      - Only devices with one of these tags (by name or id) get it; V([]) for every device of the blueprint.
    type: list
    elements: str
  details_url:
    description:
      - A web page about the update that the device shows; V('') for none.
    type: str
  os_version:
    description:
      - One-time mode, the OS version to install, for example V(14.6.1). Needs O(local_datetime).
    type: str
  build_version:
    description:
      - One-time mode, the build to install, for example V(23G93) (optional).
    type: str
  local_datetime:
    description:
      - One-time mode, the deadline in the device's time zone, V(YYYY-MM-DDTHH:MM) or V(YYYY-MM-DDTHH:MM:SS).
    type: str
  max_os_version:
    description:
      - Latest mode, the version the enforced release stays below, for example V(15).
    type: str
  delay_days:
    description:
      - Latest mode, the days after a release before it is enforced (the server's default is 14).
    type: int
  local_time:
    description:
      - Latest mode, the time of day of the deadline in the device's time zone, V(HH:MM) or V(HH:MM:SS) (the server's
        default is 09:30).
    type: str
  state:
    description:
      - V(present) creates or updates the enforcement, V(absent) deletes it; the server refuses while a blueprint
        lists it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
notes:
  - Times are compared as the server writes them (V(09:30) is V(09:30:00)), so a second run reports no change.
  - Check mode compares the declared options with the enforcement the server has; the server checks the OS versions
    when the task runs for real.
  - Needs the permissions C(mdm.view_softwareupdateenforcement) and C(mdm.add_softwareupdateenforcement),
    C(mdm.change_softwareupdateenforcement) or C(mdm.delete_softwareupdateenforcement), and C(inventory.view_tag) with
    O(tags).
seealso:
  - module: espalier.mdm.software_update_enforcement_info
  - module: espalier.mdm.blueprint
'''

EXAMPLES = r'''
- name: macOS 14.6.1 on the pilot Macs by the end of June
  espalier.mdm.software_update_enforcement:
    name: macOS 14.6.1
    platforms: [macOS]
    tags: [pilot]
    os_version: "14.6.1"
    build_version: 23G93
    local_datetime: "2024-06-30T18:00"
    details_url: https://it.example.com/updates

- name: The newest iOS 17 release, two weeks after it is out
  espalier.mdm.software_update_enforcement:
    name: iOS latest
    platforms: [iOS, iPadOS]
    max_os_version: "18"
    delay_days: 14
    local_time: "09:30"
'''

RETURN = r'''
software_update_enforcement:
  description: The enforcement after the task (predicted in check mode); empty after O(state=absent).
  returned: success
  type: dict
  sample: {id: 3, name: macOS 14.6.1, details_url: "", platforms: [macOS], tags: [4], os_version: "14.6.1",
           build_version: 23G93, local_datetime: "2024-06-30T18:00:00", max_os_version: "", delay_days: null,
           local_time: null, created_at: "2024-06-01T08:00:00", updated_at: "2024-06-01T08:00:00"}
'''

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError, api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.objects import (
    PLATFORMS, SOFTWARE_UPDATE_ENFORCEMENTS_PATH, ensure, ensure_absent, find_by_name, tag_ids,
)

ONE_TIME = ('os_version', 'build_version', 'local_datetime')
LATEST = ('max_os_version', 'delay_days', 'local_time')
FIELDS = ('name', 'details_url', 'platforms', 'tags') + ONE_TIME + LATEST
# Zentral's defaults of the latest mode, which the server applies on creation
LATEST_DEFAULTS = dict(delay_days=14, local_time='09:30:00')


def local_time(value):
    """HH:MM[:SS] as the server writes it (HH:MM:SS)."""
    if value is None:
        return None
    m = re.fullmatch(r'(\d{1,2}):(\d{2})(?::(\d{2}))?', value.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59 or int(m.group(3) or 0) > 59:
        raise EspalierModuleError('local_time: %r is not a time of day HH:MM or HH:MM:SS' % value)
    return '%02d:%s:%s' % (int(m.group(1)), m.group(2), m.group(3) or '00')


def local_datetime(value):
    """YYYY-MM-DD[T ]HH:MM[:SS] as the server writes it (YYYY-MM-DDTHH:MM:SS, no offset)."""
    if value is None:
        return None
    m = re.fullmatch(r'(\d{4}-\d{2}-\d{2})[T ](\d{1,2}:\d{2}(?::\d{2})?)', value.strip())
    if not m:
        raise EspalierModuleError('local_datetime: %r is not a local date and time YYYY-MM-DDTHH:MM[:SS] '
                                  '(without an offset)' % value)
    try:
        return '%sT%s' % (m.group(1), local_time(m.group(2)))
    except EspalierModuleError:
        raise EspalierModuleError('local_datetime: %r has no valid time of day' % value) from None


def _set(p, keys):
    return [k for k in keys if p[k] is not None and p[k] != '']


def _mode(p, current):
    if p['os_version'] and p['max_os_version']:
        raise EspalierModuleError('os_version and max_os_version cannot be both set')
    if _set(p, ONE_TIME):
        if _set(p, LATEST):
            raise EspalierModuleError('%s cannot be set with %s (two modes)' % (
                ', '.join(_set(p, LATEST)), ', '.join(_set(p, ONE_TIME))))
        return 'os_version'
    if _set(p, LATEST):
        return 'max_os_version'
    if current is None:
        raise EspalierModuleError('os_version or max_os_version is required to create an enforcement')
    return 'os_version' if current.get('os_version') else 'max_os_version'


def desired_fields(module, client, current):
    """(desired, implied): the compared fields, and the other mode's fields cleared as the server wants them."""
    p = module.params
    if p['platforms'] is not None:
        unknown = sorted(set(p['platforms']) - set(PLATFORMS))
        if unknown:
            raise EspalierModuleError('platforms: unknown %s (choose among %s)' % (', '.join(unknown), ', '.join(PLATFORMS)))
    desired = dict(name=p['name'].strip(), platforms=p['platforms'], details_url=p['details_url'],
                   os_version=p['os_version'], build_version=p['build_version'],
                   local_datetime=local_datetime(p['local_datetime']), max_os_version=p['max_os_version'],
                   delay_days=p['delay_days'], local_time=local_time(p['local_time']))
    if p['tags'] is not None:
        desired['tags'] = tag_ids(client, p['tags'], 'tags', module)
    mode = _mode(p, current)
    if mode == 'os_version':
        switching = current is not None and not current.get('os_version')
        if not desired['local_datetime'] and (current is None or switching or not current.get('local_datetime')):
            raise EspalierModuleError('local_datetime: required with os_version')
        implied = dict(max_os_version='', delay_days=None, local_time=None)
        if switching and p['build_version'] is None:
            implied['build_version'] = ''
        return desired, implied
    implied = dict(os_version='', build_version='', local_datetime=None)
    for key, default in LATEST_DEFAULTS.items():
        if desired[key] is None and (current is None or (current or {}).get(key) is None):
            implied[key] = default
    return desired, implied


def run(module, client):
    p = module.params
    name = p['name'].strip()
    current = find_by_name(client, SOFTWARE_UPDATE_ENFORCEMENTS_PATH, name)
    what = 'software update enforcement'
    if p['state'] == 'absent':
        result = ensure_absent(module, client, SOFTWARE_UPDATE_ENFORCEMENTS_PATH, current, what, name, FIELDS)
    else:
        if current is None and not p['platforms']:
            raise EspalierModuleError('platforms is required to create a software update enforcement')
        desired, implied = desired_fields(module, client, current)
        result = ensure(module, client, SOFTWARE_UPDATE_ENFORCEMENTS_PATH, current, desired, what, FIELDS,
                        implied=implied)
    result['software_update_enforcement'] = result.pop('object')
    return result


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            name=dict(type='str', required=True),
            platforms=dict(type='list', elements='str'),
            tags=dict(type='list', elements='str'),
            details_url=dict(type='str'),
            os_version=dict(type='str'),
            build_version=dict(type='str'),
            local_datetime=dict(type='str'),
            max_os_version=dict(type='str'),
            delay_days=dict(type='int'),
            local_time=dict(type='str'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
