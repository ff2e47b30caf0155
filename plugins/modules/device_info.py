#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: device_info
short_description: List the devices enrolled in Espalier
version_added: 0.1.0
description:
  - Returns the MDM enrolled devices of an Espalier server, every field the API gives.
  - Without O(id), O(serial_number) or O(udid) every device is returned; the API is read page by page.
  - A selector that matches nothing returns an empty list, it does not fail.
author:
  - Espalier developers (@espalier-mdm)
options:
  id:
    description:
      - Espalier id of one device.
      - Mutually exclusive with O(serial_number) and O(udid).
    type: int
  serial_number:
    description:
      - Serial number of the device.
    type: str
  udid:
    description:
      - UDID of the device (or EnrollmentID for a user enrollment).
    type: str
extends_documentation_fragment:
  - espalier.mdm.api
  - espalier.mdm.attributes.check_mode_read_only
  - espalier.mdm.attributes.action_group
seealso:
  - module: espalier.mdm.device
  - module: espalier.mdm.device_command_info
  - plugin: espalier.mdm.devices
    plugin_type: inventory
'''

EXAMPLES = r'''
- name: Read one device by serial number
  espalier.mdm.device_info:
    serial_number: C02ABC123DEF
  register: result

- name: Show its OS version
  ansible.builtin.debug:
    msg: "{{ result.devices[0].os_version }}"
  when: result.devices | length > 0

- name: List every device, credentials from ESPALIER_URL and ESPALIER_TOKEN
  espalier.mdm.device_info:
  register: fleet

- name: Macs without FileVault
  ansible.builtin.debug:
    msg: "{{ fleet.devices | selectattr('platform', 'eq', 'macOS') | rejectattr('filevault_enabled') | map(attribute='serial_number') }}"
'''

RETURN = r'''
devices:
  description: The devices, as the API returns them.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Espalier id of the device.
      type: int
      sample: 27
    udid:
      description: UDID of the device.
      type: str
      sample: 2A7F9BCE-9B52-4073-BE21-E419C85068E9
    serial_number:
      description: Serial number.
      type: str
      sample: "012345678910"
    name:
      description: Device name.
      type: str
      sample: Office Mac mini
    model:
      description: Model identifier.
      type: str
      sample: Macmini8,1
    platform:
      description: One of C(macOS), C(iOS), C(iPadOS), C(tvOS), C(watchOS), C(visionOS).
      type: str
      sample: macOS
    os_version:
      description: OS version.
      type: str
      sample: 14.2.1
    build_version:
      description: OS build.
      type: str
      sample: 23C71
    apple_silicon:
      description: Whether the Mac has Apple silicon.
      type: bool
    cert_not_valid_after:
      description: Expiry of the device identity certificate.
      type: str
      sample: "2024-08-05T14:44:01"
    blueprint:
      description: Id of the blueprint assigned to the device, if any.
      type: int
      sample: 1
    awaiting_configuration:
      description: Whether the device waits in Setup Assistant for configuration.
      type: bool
    declarative_management:
      description: Whether declarative device management is on.
      type: bool
    dep_enrollment:
      description: Whether the device enrolled through Automated Device Enrollment.
      type: bool
    user_enrollment:
      description: Whether it is a user enrollment.
      type: bool
    user_approved_enrollment:
      description: Whether the enrollment is user approved.
      type: bool
    supervised:
      description: Whether the device is supervised.
      type: bool
    bootstrap_token_escrowed:
      description: Whether the bootstrap token is escrowed.
      type: bool
    filevault_enabled:
      description: Whether FileVault is on.
      type: bool
    filevault_prk_escrowed:
      description: Whether the FileVault personal recovery key is escrowed.
      type: bool
    activation_lock_manageable:
      description: Whether Activation Lock can be managed (also true on T2 Macs).
      type: bool
    last_seen_at:
      description: Last check-in.
      type: str
      sample: "2024-02-17T20:31:34.848107"
    last_notified_at:
      description: Last push notification.
      type: str
    checkout_at:
      description: When the device checked out of the MDM, if it did.
      type: str
    blocked_at:
      description: When the device was blocked, null if it is not.
      type: str
    released_at:
      description: When the device was released (the next enrollment of its UDID may take it over), null if it is not.
      type: str
    recovery_password_escrowed:
      description: Whether a recovery lock or firmware password is escrowed.
      type: bool
    pin_required_for_erase:
      description: Whether EraseDevice needs a C(pin) on this device, as the server decides it.
      type: bool
    pin_required_for_lock:
      description: Whether DeviceLock needs a C(pin) on this device, as the server decides it.
      type: bool
    created_at:
      description: Enrollment record creation.
      type: str
    updated_at:
      description: Last update of the record.
      type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import api_argument_spec, run_module
from ansible_collections.espalier.mdm.plugins.module_utils.devices import (
    DEVICE_ARGSPEC, DEVICES_PATH, device_selector, find_devices,
)


def run(module, client):
    if any(module.params[k] is not None for k in ('id', 'serial_number', 'udid')):
        devices = find_devices(client, *device_selector(module.params))
    else:
        devices = client.list_all(DEVICES_PATH)
    return dict(changed=False, devices=devices)


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(**DEVICE_ARGSPEC),
        mutually_exclusive=[('id', 'serial_number', 'udid')],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
