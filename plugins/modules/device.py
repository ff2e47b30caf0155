#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r'''
module: device
short_description: Block, unblock, release, tag or assign a blueprint to a device of Espalier
version_added: 0.1.0
description:
  - Declares whether a device is blocked, and releases it.
  - A blocked device is released from the MDM and cannot enroll again until it is unblocked.
  - A serial number or UDID that no enrolled device has is blocked before it enrolls (the server's
    C(/api/mdm/blocked_devices/) list), so a stolen device is refused at its first enrollment;
    O(blocked=false) removes it from that list. Serial numbers and UDIDs match whatever their case.
  - O(released=true) releases an enrolled device, one-shot. The next enrollment of its UDID may take it
    over with another certificate (a device wiped or replaced without checking out); its current
    certificate keeps working until then. A released device stays released until it enrolls again, so
    a second run reports no change.
  - O(blueprint) assigns the blueprint the device converges to; O(tags) sets its inventory tags, which scope
    blueprint artifacts. The server pushes the device when either changes.
  - The device is read first; a call is made only when the state differs.
author:
  - Espalier developers (@espalier-mdm)
options:
  blocked:
    description:
      - V(true) to block the device, V(false) to unblock it; unset leaves it as it is.
    type: bool
  reason:
    description:
      - Why a device that is not enrolled is blocked, kept with the entry (at most 256 characters).
        Not compared, not used for an enrolled device.
    type: str
  released:
    description:
      - V(true) to release the enrolled device (the API's C(POST /api/mdm/devices/<id>/release/)).
      - V(false) is refused, a release ends when the device enrolls again.
    type: bool
  blueprint:
    description:
      - The blueprint of the enrolled device, by name or id; V('') for none.
    type: str
  tags:
    description:
      - Inventory tags of the device (by name, created when missing). With O(purge_tags=true) the device has exactly
        these tags, otherwise they are added to its tags.
    type: list
    elements: str
  purge_tags:
    description:
      - Remove the tags of the device that O(tags) does not list.
    type: bool
    default: true
extends_documentation_fragment:
  - espalier.mdm.device
  - espalier.mdm.api
  - espalier.mdm.attributes
  - espalier.mdm.attributes.action_group
notes:
  - C(changed) means the device was blocked, unblocked or released (or would be, in check mode).
  - In check mode nothing is written; the returned device shows the predicted state, with
    RV(device.blocked_at) or RV(device.released_at) set to the time of the run.
  - Needs C(mdm.view_enrolleddevice) and C(mdm.change_enrolleddevice).
  - One of O(blocked), O(released), O(blueprint) and O(tags) is required. Blocking before enrollment takes
    O(serial_number) or O(udid), not O(id).
  - O(blueprint) needs C(mdm.view_blueprint) for a name; O(tags) needs C(inventory.view_machinetag),
    C(inventory.add_tag), C(inventory.add_taxonomy), C(inventory.add_machinetag) and C(inventory.delete_machinetag),
    and a device with a serial number.
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

- name: Refuse a serial number that never enrolled (stolen before delivery)
  espalier.mdm.device:
    serial_number: C02NEW000001
    blocked: true
    reason: stolen in transit, ticket 4711

- name: Let the next enrollment of a Mac wiped without checking out take its UDID
  espalier.mdm.device:
    serial_number: C02ABC123DEF
    released: true

- name: The Mac joins the pilot on the staff blueprint
  espalier.mdm.device:
    serial_number: C02ABC123DEF
    blueprint: Staff
    tags: [pilot]

- name: Converge a list of blocked devices
  espalier.mdm.device:
    serial_number: "{{ item }}"
    blocked: true
  loop: "{{ espalier_blocked_devices }}"
'''

RETURN = r'''
device:
  description:
    - The enrolled device after the change (predicted in check mode), every field as M(espalier.mdm.device_info)
      returns it.
    - Null for a serial number or UDID that no enrolled device has.
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
    released_at:
      description: When the device was released, null if it is not.
      type: str
      sample: "2024-02-04T07:03:12.345678"
device_tags:
  description: The tag names of the device after the task (predicted in check mode), when O(tags) is set.
  returned: success and O(tags) set
  type: list
  elements: str
  sample: [pilot]
blocked_device:
  description:
    - The entry that blocks a serial number or UDID no enrolled device has (predicted in check mode).
    - Null when there is none, and for an enrolled device.
  returned: success
  type: dict
  sample: {id: 3, serial_number: C02NEW000001, udid: null, reason: "stolen in transit", created_at: "2024-02-04T07:03:12"}
diff:
  description:
    - The O(blocked) state with RV(device.blocked_at) (or RV(blocked_device)), O(released) with RV(device.released_at),
      C(blueprint) (its id) and C(tags).
  returned: changed and diff mode
  type: dict
  sample:
    before: {blocked: false, blocked_at: null}
    after: {blocked: true, blocked_at: "2024-02-04T07:03:12.345678"}
'''

import datetime
from urllib.parse import quote

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.espalier.mdm.plugins.module_utils.api import (
    EspalierApiError, EspalierModuleError, api_argument_spec, run_module,
)
from ansible_collections.espalier.mdm.plugins.module_utils.devices import (
    DEVICE_ARG_RULES, DEVICE_ARGSPEC, NoSuchDevice, describe, device_path, device_selector, get_device,
    resolve_device,
)
from ansible_collections.espalier.mdm.plugins.module_utils.objects import BLUEPRINTS_PATH, id_of
from ansible_collections.espalier.mdm.plugins.module_utils.state import Outcome, converge

BLOCKED_DEVICES_PATH = 'api/mdm/blocked_devices/'


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None).isoformat()


def blocked_view(device):
    return dict(blocked=device.get('blocked_at') is not None, blocked_at=device.get('blocked_at'))


def released_view(device):
    return dict(released=device.get('released_at') is not None, released_at=device.get('released_at'))


def set_blocked(module, client, device, blocked):
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
        # blocking also releases the device (it is told to unenroll, its UDID is free again)
        return dict(device, blocked_at=_now() if blocked else None,
                    released_at=device.get('released_at') or (_now() if blocked else None))

    return converge(module, device, dict(blocked=blocked), apply, predict,
                    view=blocked_view, diff_keys=['blocked', 'blocked_at'])


def release(module, client, device):
    return converge(module, device, dict(released=True),
                    lambda: client.post(device_path(device['id'], 'release')),
                    lambda: dict(device, released_at=_now()),
                    view=released_view, diff_keys=['released', 'released_at'])


def set_blueprint(module, client, device, value):
    wanted = None if str(value).strip() in ('', '0') else id_of(client, BLUEPRINTS_PATH, value, 'blueprint', module=module)
    if device.get('blueprint') == wanted:
        return Outcome(False, None, None, None, device)
    after = dict(device, blueprint=wanted)
    if not module.check_mode:
        after = client.request('PATCH', device_path(device['id']), data=dict(blueprint=wanted))
    return Outcome(True, None, None, dict(before=dict(blueprint=device.get('blueprint')), after=dict(blueprint=wanted)),
                   after)


def machine_tags_path(serial_number):
    return 'api/inventory/machines/%s/tags/' % quote(serial_number, safe='')


def set_tags(module, client, device, names, purge):
    """(outcome, tag names after) of the device's inventory tags."""
    if not device.get('serial_number'):
        raise EspalierModuleError('tags: %s has no serial number to tag' % describe(device))
    current = sorted(t['name'] for t in client.get(machine_tags_path(device['serial_number']))['tags'])
    wanted = sorted(set(n.strip() for n in names if n.strip()))
    add = [n for n in wanted if n not in current]
    remove = [n for n in current if n not in wanted] if purge else []
    after = sorted(set(current) - set(remove) | set(add))
    if not add and not remove:
        return Outcome(False, None, None, None, device), current
    if not module.check_mode:
        operations = ([dict(kind='ADD', taxonomy=None, names=add)] if add else []) + (
            [dict(kind='REMOVE', taxonomy=None, names=remove)] if remove else [])
        client.post('api/inventory/machines/tags/', dict(serial_numbers=[device['serial_number']], operations=operations))
    return Outcome(True, None, None, dict(before=dict(tags=current), after=dict(tags=after)), device), after


def blocked_entry(client, key, value):
    """The blocked_devices entry of this serial number or UDID (the server stores them upper-case), or None."""
    wanted = str(value).strip().casefold()
    return next((e for e in client.list_all(BLOCKED_DEVICES_PATH, {key: str(value).strip()})
                 if str(e.get(key) or '').casefold() == wanted), None)


def block_before_enrollment(module, client, key, value, blocked):
    """(changed, entry after, diff) for a serial number or UDID that no enrolled device has."""
    entry = blocked_entry(client, key, value)
    if (entry is not None) == blocked:
        return False, entry, None
    if not blocked:
        if not module.check_mode:
            client.delete('%s%d/' % (BLOCKED_DEVICES_PATH, entry['id']))
        after = None
    else:
        body = {key: str(value).strip()}
        if module.params['reason']:
            body['reason'] = module.params['reason']
        if module.check_mode:
            after = dict(id=None, serial_number=None, udid=None, reason=None, created_at=_now())
            after.update(body, **{key: body[key].upper()})
        else:
            after = client.post(BLOCKED_DEVICES_PATH, body)
    diff = dict(before=dict(blocked=entry is not None, blocked_device=entry),
                after=dict(blocked=after is not None, blocked_device=after))
    return True, after, diff


def _check_mode(module, changed):
    return ' (check mode)' if module.check_mode and changed else ''


def run(module, client):
    p = module.params
    if all(p[k] is None for k in ('blocked', 'released', 'blueprint', 'tags')):
        raise EspalierModuleError('one of blocked, released, blueprint and tags is required')
    if p['released'] is False:
        raise EspalierModuleError('released: false is not a state to converge to, a release ends when the device '
                                  'enrolls again: leave released out, or set it to true')
    key, value = device_selector(p)
    try:
        device = resolve_device(client, p)
    except NoSuchDevice:
        if key == 'id' or p['released'] or p['blocked'] is None or p['blueprint'] is not None or p['tags'] is not None:
            raise
        changed, entry, diff = block_before_enrollment(module, client, key, value, p['blocked'])
        msg = 'no enrolled device with %s %s: %s%s before enrollment%s' % (
            key, value, '' if changed else 'already ', 'blocked' if p['blocked'] else 'not blocked',
            _check_mode(module, changed))
        result = dict(changed=changed, device=None, blocked_device=entry, msg=msg)
        if diff:
            result['diff'] = diff
        return result

    outcomes = []
    if p['blocked'] is not None:
        outcomes.append(('blocked' if p['blocked'] else 'unblocked', set_blocked(module, client, device, p['blocked'])))
        device = outcomes[-1][1].applied
    if p['released']:
        outcomes.append(('released', release(module, client, device)))
        device = outcomes[-1][1].applied
    if p['blueprint'] is not None:
        outcomes.append(('blueprint set', set_blueprint(module, client, device, p['blueprint'])))
        device = outcomes[-1][1].applied
    tags = None
    if p['tags'] is not None:
        outcome, tags = set_tags(module, client, device, p['tags'], p['purge_tags'])
        outcomes.append(('tagged', outcome))
    changed = any(o.changed for dummy, o in outcomes)
    msg = '%s %s%s' % (describe(device), ', '.join('%s%s' % ('' if o.changed else 'already ', verb)
                                                   for verb, o in outcomes), _check_mode(module, changed))
    result = dict(changed=changed, device=device, blocked_device=None, msg=msg)
    if tags is not None:
        result['device_tags'] = tags
    if changed:
        result['diff'] = dict(before={}, after={})
        for dummy, o in outcomes:
            if o.changed:
                result['diff']['before'].update(o.diff['before'])
                result['diff']['after'].update(o.diff['after'])
    return result


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(blocked=dict(type='bool'), reason=dict(type='str'),
                                        released=dict(type='bool'), blueprint=dict(type='str'),
                                        tags=dict(type='list', elements='str'), purge_tags=dict(type='bool', default=True),
                                        **DEVICE_ARGSPEC),
        supports_check_mode=True,
        **DEVICE_ARG_RULES
    )
    run_module(module, run)


if __name__ == '__main__':
    main()
