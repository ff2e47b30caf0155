#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: dep_device
short_description: Assign ABM devices a DEP enrollment, or disown them
version_added: 0.4.0
description:
  - Brings the ABM (DEP) devices of O(serial_numbers) to their declared enrollment; the server assigns them the
    enrollment's profile at Apple (in a task). Devices that already have its profile are left alone.
  - With O(disown=true), disowns the devices at Apple instead. This is irreversible, and done once per device
    (a device already disowned is left alone).
author:
  - Espalier developers (@espalier-mdm)
options:
  serial_numbers:
    description:
      - The serial numbers of the devices; each must be a DEP device the server synced from ABM.
    type: list
    elements: str
    required: true
  enrollment:
    description:
      - The DEP enrollment (id or name) to assign. Required unless O(disown=true).
    type: raw
  disown:
    description:
      - Disown the devices at Apple (irreversible). Needs the permission C(mdm.disown_depdevice).
    type: bool
    default: false
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
notes:
  - Check mode lists what would be assigned or disowned without asking Apple anything.
  - Needs C(mdm.view_depdevice), C(mdm.view_depenrollment) and C(mdm.change_depdevice).
seealso:
  - module: espalier.mdm.dep_enrollment
  - module: espalier.mdm.dep_device_info
'''

EXAMPLES = r'''
- name: The lab iPads go to the Lab enrollment
  espalier.mdm.dep_device:
    serial_numbers: [DMPXK0XXXX01, DMPXK0XXXX02]
    enrollment: Lab iPads

- name: Disown a Mac sold on
  espalier.mdm.dep_device:
    serial_numbers: [C02ZX0XXXXXX]
    disown: true
'''

RETURN = r'''
assigned:
  description: The serial numbers assigned the enrollment (in check mode, those that would be).
  returned: success
  type: list
  elements: str
disowned:
  description: The serial numbers disowned (in check mode, those that would be).
  returned: success
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError, api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.dep import DEP_ENROLLMENTS_PATH, DEVICES_PATH, list_devices
from ansible_collections.espalier.mdm.plugins.module_utils.objects import id_of, object_path


def devices_of(client, serials):
    found = {}
    for serial in serials:
        matches = [d for d in list_devices(client, dict(serial_number=serial)) if d.get('serial_number') == serial]
        if not matches:
            raise EspalierModuleError("no DEP device with serial number '%s'" % serial)
        found[serial] = matches[0]
    return found


def run(module, client):
    p = module.params
    serials = sorted(set(s.strip() for s in p['serial_numbers'] if s.strip()))
    devices = devices_of(client, serials)
    if p['disown']:
        todo = [s for s in serials if not devices[s].get('disowned_at')]
        failed = []
        if not module.check_mode:
            for serial in todo:
                answer = client.post(object_path(DEVICES_PATH, devices[serial]['id']) + 'disown/', {})
                if answer.get('result') != 'SUCCESS':
                    failed.append('%s: %s' % (serial, answer.get('error') or answer.get('result')))
        if failed:
            raise EspalierModuleError('Apple did not disown: %s' % '; '.join(failed))
        result = dict(changed=bool(todo), assigned=[], disowned=todo,
                      msg='%d devices disowned%s' % (len(todo), ' (check mode)' if module.check_mode else ''))
        if todo:
            result['diff'] = dict(before=dict(disowned=[]), after=dict(disowned=todo))
        return result
    if p['enrollment'] is None:
        raise EspalierModuleError('enrollment is required unless disown is true')
    enrollment_id = id_of(client, DEP_ENROLLMENTS_PATH, p['enrollment'], 'enrollment', 'DEP enrollment')
    enrollment = client.get(object_path(DEP_ENROLLMENTS_PATH, enrollment_id))
    todo = [s for s in serials if devices[s].get('enrollment') != enrollment_id
            or devices[s].get('profile_uuid') != enrollment.get('profile_uuid')]
    if not module.check_mode:
        for serial in todo:
            client.put(object_path(DEVICES_PATH, devices[serial]['id']), dict(enrollment=enrollment_id))
    result = dict(changed=bool(todo), assigned=todo, disowned=[],
                  msg="%d devices assigned '%s'%s" % (len(todo), enrollment.get('name'),
                                                      ' (check mode)' if module.check_mode else ''))
    if todo:
        result['diff'] = dict(before=dict(enrollment={s: devices[s].get('enrollment') for s in todo}),
                              after=dict(enrollment=dict.fromkeys(todo, enrollment_id)))
    return result


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            serial_numbers=dict(type='list', elements='str', required=True),
            enrollment=dict(type='raw'),
            disown=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
