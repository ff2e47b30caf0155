#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: dep_enrollment
short_description: Declare an Automated Device Enrollment (DEP) enrollment of Espalier
version_added: 0.4.0
description:
  - Creates, updates or deletes a DEP enrollment, matched by O(name). The server defines its enrollment profile
    at Apple Business Manager when it is created, and defines a new one (assigning its devices again) when an option
    Apple holds changes.
  - Devices of its virtual server that ABM gives no profile are assigned this enrollment after each sync when
    O(default=true).
  - Only the options the task sets are managed; a second run with the same options reports no change.
author:
  - Espalier developers (@espalier-mdm)
options:
  name:
    description:
      - Name of the enrollment, unique on the server; the profile's name at Apple unless O(display_name) is set.
    type: str
    required: true
  virtual_server:
    description:
      - The DEP virtual server (id or name). Required to create the enrollment; it cannot change afterwards.
    type: raw
  push_certificate:
    description:
      - The push certificate (id or name) of the devices. Required to create the enrollment.
    type: raw
  blueprint:
    description:
      - The blueprint (id or name) of the devices; an empty string takes it off.
    type: raw
  display_name:
    description:
      - The name Setup Assistant shows.
    type: str
  is_supervised:
    description:
      - Whether devices are supervised.
    type: bool
  is_mandatory:
    description:
      - Whether the user cannot skip the enrollment.
    type: bool
  is_mdm_removable:
    description:
      - Whether the user may remove the MDM profile; V(false) needs O(is_supervised=true).
    type: bool
  is_multi_user:
    description:
      - Shared iPad.
    type: bool
  await_device_configured:
    description:
      - Whether Setup Assistant waits until the server sends DeviceConfigured (after the blueprint's first artifacts).
    type: bool
  auto_advance_setup:
    description:
      - tvOS and macOS; Setup Assistant advances by itself.
    type: bool
  allow_pairing:
    description:
      - Whether the device may pair with a computer.
    type: bool
  include_tls_certificates:
    description:
      - Whether the server's TLS chain (setting C(tls_fullchain)) goes to Apple as the profile's anchor certificates.
    type: bool
  skip_setup_items:
    description:
      - The Setup Assistant panes to skip (Apple's skip keys, for example V(AppleID), V(Siri)).
    type: list
    elements: str
  language:
    description:
      - ISO 639 language code of Setup Assistant (V(en)); empty for none.
    type: str
  region:
    description:
      - ISO 3166 region code (V(US)); empty for none.
    type: str
  department:
    description:
      - The department Setup Assistant shows.
    type: str
  org_magic:
    description:
      - An identifier of the organisation's part the device belongs to.
    type: str
  support_phone_number:
    description:
      - Support phone number shown during setup.
    type: str
  support_email_address:
    description:
      - Support email address shown during setup.
    type: str
  ios_min_version:
    description:
      - Devices below it that can update during setup are told to update first; empty for none.
    type: str
  ios_max_version:
    description:
      - The update a device below O(ios_min_version) is told to install stays below it.
    type: str
  macos_min_version:
    description:
      - As O(ios_min_version), for Macs.
    type: str
  macos_max_version:
    description:
      - As O(ios_max_version), for Macs.
    type: str
  admin_full_name:
    description:
      - macOS; the full name of an admin account the server creates during setup (with O(admin_short_name)).
    type: str
  admin_short_name:
    description:
      - macOS; the short name of that account. Its password is generated per Mac and escrowed.
    type: str
  hidden_admin:
    description:
      - Whether that account is hidden.
    type: bool
  admin_password_complexity:
    description:
      - 1, 2 or 3, from digits and lower case letters to punctuation.
    type: int
    choices: [1, 2, 3]
  admin_password_rotation_delay:
    description:
      - Minutes after a reveal of the password after which it is rotated (0 never).
    type: int
  default:
    description:
      - V(true) makes it its virtual server's default enrollment (new devices are assigned it after each sync);
        V(false) clears that when it is the default.
    type: bool
  state:
    description:
      - V(present) creates or updates the enrollment, V(absent) deletes it; the server refuses while devices are
        enrolled through it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
notes:
  - Check mode compares the declared options with the enrollment the server has; the server's and Apple's checks
    run when the task runs for real.
  - Needs the permissions C(mdm.view_depenrollment) and C(mdm.add_depenrollment), C(mdm.change_depenrollment) or
    C(mdm.delete_depenrollment); O(default) also needs C(mdm.change_depvirtualserver).
seealso:
  - module: espalier.mdm.dep_device
  - module: espalier.mdm.dep_sync
  - module: espalier.mdm.dep_virtual_server_info
'''

EXAMPLES = r'''
- name: Staff Macs come supervised, with an IT admin account, onto the Staff blueprint
  espalier.mdm.dep_enrollment:
    name: Staff Macs
    virtual_server: Example MDM
    push_certificate: Production
    blueprint: Staff
    is_supervised: true
    is_mdm_removable: false
    skip_setup_items: [AppleID, Siri, Privacy]
    macos_min_version: "14.6"
    admin_full_name: IT Admin
    admin_short_name: itadmin
    default: true
'''

RETURN = r'''
dep_enrollment:
  description: The enrollment after the task (predicted in check mode, where Apple's profile_uuid is not known);
    empty after O(state=absent). Its secret and URL are left out.
  returned: success
  type: dict
  sample: {id: 3, name: Staff Macs, virtual_server: 1, push_certificate: 1, blueprint: 2, is_supervised: true,
           profile_uuid: 6B0F1A2E9C4D4E0FA3B1C2D3E4F5A6B7, skip_setup_items: [AppleID, Siri]}
diff:
  description: The managed options before and after; C(state) when the enrollment is created or deleted.
  returned: changed and diff mode
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError, api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.dep import (
    DEP_ENROLLMENTS_PATH, VIRTUAL_SERVERS_PATH, virtual_server_path,
)
from ansible_collections.espalier.mdm.plugins.module_utils.enrollments import push_certificate_id
from ansible_collections.espalier.mdm.plugins.module_utils.objects import (
    BLUEPRINTS_PATH, CLEARED, ensure, ensure_absent, find_by_name, id_of,
)

FIELDS = ('name', 'virtual_server', 'push_certificate', 'blueprint', 'display_name', 'is_supervised', 'is_mandatory',
          'is_mdm_removable', 'is_multi_user', 'await_device_configured', 'auto_advance_setup', 'allow_pairing',
          'include_tls_certificates', 'skip_setup_items', 'language', 'region', 'department', 'org_magic',
          'support_phone_number', 'support_email_address', 'ios_min_version', 'ios_max_version', 'macos_min_version',
          'macos_max_version', 'admin_full_name', 'admin_short_name', 'hidden_admin', 'admin_password_complexity',
          'admin_password_rotation_delay')
SECRET_FIELDS = ('secret', 'enroll_url', 'enrollment_secret')


def shown(enrollment):
    return {k: v for k, v in (enrollment or {}).items() if k not in SECRET_FIELDS}


def desired_fields(module, client, p, current):
    desired = dict((k, p[k]) for k in FIELDS)
    desired['name'] = p['name'].strip()
    if current is None and (p['virtual_server'] is None or p['push_certificate'] is None):
        raise EspalierModuleError('virtual_server and push_certificate are required to create a DEP enrollment')
    if p['virtual_server'] is not None:
        desired['virtual_server'] = id_of(client, VIRTUAL_SERVERS_PATH, p['virtual_server'], 'virtual_server',
                                          'DEP virtual server', module)
    if p['push_certificate'] is not None:
        desired['push_certificate'] = push_certificate_id(client, p['push_certificate'])
    if p['blueprint'] == '':
        desired['blueprint'] = CLEARED
    elif p['blueprint'] is not None:
        desired['blueprint'] = id_of(client, BLUEPRINTS_PATH, p['blueprint'], 'blueprint', module=module)
    return desired


def set_default(module, client, enrollment, wanted, result):
    """The virtual server's default enrollment as declared: part of the same result and diff."""
    if not isinstance(enrollment.get('virtual_server'), int):  # check mode: a server an earlier task creates
        result['changed'] = True
        return
    server = client.get(virtual_server_path(enrollment['virtual_server']))
    is_default = server.get('default_enrollment') == enrollment.get('id') and enrollment.get('id') is not None
    if wanted == is_default or (not wanted and server.get('default_enrollment') is None):
        return
    value = enrollment.get('id') if wanted else None
    if not module.check_mode:
        client.put(virtual_server_path(enrollment['virtual_server']), dict(default_enrollment=value))
    diff = result.setdefault('diff', dict(before={}, after={}))
    diff['before']['default'], diff['after']['default'] = is_default, wanted
    result['changed'] = True


def run(module, client):
    p = module.params
    name = p['name'].strip()
    current = find_by_name(client, DEP_ENROLLMENTS_PATH, name)
    if p['state'] == 'absent':
        result = ensure_absent(module, client, DEP_ENROLLMENTS_PATH, current, 'DEP enrollment', name, FIELDS)
        result['dep_enrollment'] = {}
        result.pop('object')
        return result
    result = ensure(module, client, DEP_ENROLLMENTS_PATH, current, desired_fields(module, client, p, current),
                    'DEP enrollment', FIELDS)
    enrollment = result.pop('object')
    if p['default'] is not None:
        set_default(module, client, enrollment, p['default'], result)
    result['dep_enrollment'] = shown(enrollment)
    return result


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            name=dict(type='str', required=True),
            virtual_server=dict(type='raw'),
            push_certificate=dict(type='raw'),
            blueprint=dict(type='raw'),
            display_name=dict(type='str'),
            is_supervised=dict(type='bool'),
            is_mandatory=dict(type='bool'),
            is_mdm_removable=dict(type='bool'),
            is_multi_user=dict(type='bool'),
            await_device_configured=dict(type='bool'),
            auto_advance_setup=dict(type='bool'),
            allow_pairing=dict(type='bool'),
            include_tls_certificates=dict(type='bool'),
            skip_setup_items=dict(type='list', elements='str'),
            language=dict(type='str'),
            region=dict(type='str'),
            department=dict(type='str'),
            org_magic=dict(type='str'),
            support_phone_number=dict(type='str'),
            support_email_address=dict(type='str'),
            ios_min_version=dict(type='str'),
            ios_max_version=dict(type='str'),
            macos_min_version=dict(type='str'),
            macos_max_version=dict(type='str'),
            admin_full_name=dict(type='str'),
            admin_short_name=dict(type='str'),
            hidden_admin=dict(type='bool'),
            admin_password_complexity=dict(type='int', choices=[1, 2, 3], no_log=False),
            admin_password_rotation_delay=dict(type='int', no_log=False),
            default=dict(type='bool'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
