#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: device
short_description: Block or unblock a device enrolled in Espalier
version_added: 0.1.0
description:
  - Declares whether an enrolled device is blocked.
  - A blocked device is released from the MDM and cannot enroll again until it is unblocked.
  - The device is read first; the block or unblock call is made only when the state differs,
    so blocking a blocked device reports no change.
author:
  - Espalier developers (@espalier-mdm)
options:
  blocked:
    description:
      - V(true) to block the device, V(false) to unblock it.
    type: bool
    required: true
extends_documentation_fragment:
  - espalier.mdm.device
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
notes:
  - C(changed) means the device was blocked or unblocked.
  - In check mode nothing is written; the returned device shows the predicted O(blocked) state,
    with RV(device.blocked_at) set to the time of the run.
seealso:
  - module: espalier.mdm.device_info
'''

EXAMPLES = r'''
- name: Block a stolen Mac
  espalier.mdm.device:
    serial_number: C02ABC123DEF
    blocked: true

- name: Let it enroll again
  espalier.mdm.device:
    udid: 2A7F9BCE-9B52-4073-BE21-E419C85068E9
    blocked: false

- name: Converge a list of blocked devices
  espalier.mdm.device:
    serial_number: "{{ item }}"
    blocked: true
  loop: "{{ espalier_blocked_devices }}"
'''

RETURN = r'''
device:
  description: The device after the change (predicted in check mode), every field as M(espalier.mdm.device_info) returns it.
  returned: success
  type: dict
  sample:
    id: 27
    serial_number: "012345678910"
    platform: macOS
    blocked_at: "2024-02-04T07:03:12.345678"
  contains:
    blocked_at:
      description: When the device was blocked, null if it is not.
      type: str
      sample: "2024-02-04T07:03:12.345678"
diff:
  description: The O(blocked) state and RV(device.blocked_at), before and after.
  returned: changed and diff mode
  type: dict
  sample:
    before: {blocked: false, blocked_at: null}
    after: {blocked: true, blocked_at: "2024-02-04T07:03:12.345678"}
'''

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import (
    EspalierApiError, api_argument_spec, run_module,
)
from ansible_collections.espalier.mdm.plugins.module_utils.devices import (
    DEVICE_ARG_RULES, DEVICE_ARGSPEC, describe, device_path, get_device, resolve_device,
)
from ansible_collections.espalier.mdm.plugins.module_utils.state import converge


def blocked_view(device):
    return dict(blocked=device.get('blocked_at') is not None, blocked_at=device.get('blocked_at'))


def run(module, client):
    blocked = module.params['blocked']
    device = resolve_device(client, module.params)

    def apply():
        try:
            return client.post(device_path(device['id'], 'block' if blocked else 'unblock'))
        except EspalierApiError as ex:
            # Someone else made the same change between our read and our write:
            # the API refuses the no-op with a 400, the state is what we want.
            if ex.status == 400:
                fresh = get_device(client, device['id'])
                if blocked_view(fresh)['blocked'] == blocked:
                    return fresh
            raise

    def predict():
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None).isoformat()
        return dict(device, blocked_at=now if blocked else None)

    outcome = converge(module, device, dict(blocked=blocked), apply, predict,
                       view=blocked_view, diff_keys=['blocked', 'blocked_at'])
    verb = 'blocked' if blocked else 'unblocked'
    if outcome.changed:
        msg = '%s %s%s' % (describe(device), verb, ' (check mode)' if module.check_mode else '')
    else:
        msg = '%s already %s' % (describe(device), verb)
    result = dict(changed=outcome.changed, device=outcome.applied, msg=msg)
    if outcome.changed:
        result['diff'] = outcome.diff
    return result


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(blocked=dict(type='bool', required=True), **DEVICE_ARGSPEC),
        supports_check_mode=True,
        **DEVICE_ARG_RULES
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
