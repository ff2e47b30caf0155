# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the espalier.mdm collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

"""The recipe shared by the modules that queue one MDM command (device_lock, device_erase, device_command)."""

from __future__ import annotations

from ansible_collections.espalier.mdm.plugins.module_utils.api import WAIT_ARGSPEC, EspalierApiError, EspalierModuleError
from ansible_collections.espalier.mdm.plugins.module_utils.devices import (
    FAILED_COMMAND_STATUSES, describe, device_path, pending_command, resolve_device, wait_command,
)

COMMAND_ARGSPEC = dict(force=dict(type='bool', default=False), **WAIT_ARGSPEC)


def queue_command(module, client, request_type, action, check_arguments, build_payload, skip_pending=None):
    """Queue request_type for the device unless one is pending; optionally wait for its result.

    check_arguments(device) returns the reasons the server would refuse the arguments.
    build_payload(device) returns the JSON body of POST /api/mdm/devices/<id>/<action>/.
    skip_pending: whether a pending command of that name stands for this one (default: not force).
    changed means a command was queued (or would be, in check mode).
    """
    params = module.params
    device = resolve_device(client, params)
    problems = check_arguments(device)
    if problems:
        raise EspalierModuleError('cannot queue %s for %s: %s' % (request_type, describe(device), '; '.join(problems)))

    if skip_pending is None:
        skip_pending = not params['force']
    existing = pending_command(client, device['id'], request_type) if skip_pending else None
    if existing is not None:
        command, changed = existing, False
        msg = '%s %s already pending for %s' % (request_type, existing.get('uuid'), describe(device))
    elif module.check_mode:
        command, changed = dict(name=request_type, enrolled_device=device['id'], status=None), True
        msg = '%s would be queued for %s (check mode)' % (request_type, describe(device))
    else:
        command, changed = client.post(device_path(device['id'], action), build_payload(device)), True
        msg = '%s %s queued for %s' % (request_type, command.get('uuid'), describe(device))

    if params['wait'] and not module.check_mode and command.get('uuid'):
        try:
            command = wait_command(client, command['uuid'], params['wait_timeout'])
        except EspalierApiError as ex:
            # the command is queued all the same: say so in the failure
            ex.result = dict(changed=changed, command=command, device=device)
            raise
        msg = '%s: %s' % (msg, command.get('status'))

    result = dict(changed=changed, command=command, device=device, msg=msg)
    if changed:
        result['diff'] = dict(before=dict(pending_command=None),
                              after=dict(pending_command=dict(name=request_type, device=device.get('serial_number'))))
    if command.get('status') in FAILED_COMMAND_STATUSES:
        result['msg'] = '%s %s for %s ended with status %s: %s' % (
            request_type, command.get('uuid'), describe(device), command['status'],
            command.get('error_chain') or 'no error chain')
        module.fail_json(**result)
    return result
