# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the espalier.mdm collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

"""The recipe shared by the modules that queue one MDM command (device_lock, device_erase, device_command).

The collection holds none of the server's argument rules: every run first asks the server
what it would queue (``?dry_run=1``: the same 400 as a real request, or the command with its
``request_hash``), and the hash says whether a pending or acknowledged command is the same
request, without the collection ever seeing a stored PIN.
"""

from __future__ import annotations

import datetime

from ansible_collections.espalier.mdm.plugins.module_utils.api import (
    WAIT_ARGSPEC, EspalierApiError, EspalierModuleError,
)
from ansible_collections.espalier.mdm.plugins.module_utils.devices import (
    FAILED_COMMAND_STATUSES, PENDING_STATUSES, cancel_command, command_summary, describe, device_path, list_commands,
    resolve_device, wait_command,
)

# device_lock and device_erase: one-shot (once, since) and replace-or-fail of a pending command.
COMMAND_ARGSPEC = dict(
    force=dict(type='bool', default=False),
    once=dict(type='bool', default=True),
    since=dict(type='str'),
    **WAIT_ARGSPEC
)


def parse_since(value):
    """The since option as a naive UTC datetime (the API's timestamps have no offset), or None."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    if text.endswith(('Z', 'z')):
        text = text[:-1] + '+00:00'
    try:
        when = datetime.datetime.fromisoformat(text.replace(' ', 'T', 1) if len(text) > 10 else text)
    except ValueError:
        raise EspalierModuleError('since must be an ISO 8601 date or date and time, for example 2024-05-01 or '
                                  '2024-05-01T08:00:00Z, not %r' % value) from None
    if when.tzinfo is not None:
        when = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return when


def _when(command):
    """When the device answered the command (else when it was queued), as a naive datetime."""
    for key in ('result_time', 'created_at'):
        if command.get(key):
            try:
                return datetime.datetime.fromisoformat(str(command[key]).replace('Z', ''))
            except ValueError:
                continue
    return None


def dry_run(client, device, request_type, action, payload):
    """What the server would queue: {name, enrolled_device, request_hash}, or the server's 400 as a module error."""
    try:
        answer = client.post(device_path(device['id'], action), payload, params=dict(dry_run=1))
    except EspalierApiError as ex:
        if ex.status == 400:
            raise EspalierModuleError('cannot queue %s for %s: %s' % (request_type, describe(device), ex.detail)) from None
        raise
    return answer['command']


def acknowledged_since(client, device, request_type, request_hash, since):
    """The newest acknowledged command of this request for the device, answered at or after since."""
    for command in list_commands(client, device['id'], name=request_type, status='Acknowledged',
                                 request_hash=request_hash):
        if command.get('request_hash') != request_hash:
            continue
        when = _when(command)
        if since is None or (when is not None and when >= since):
            return command
    return None


def queue_command(module, client, request_type, action, payload, once=False, replace=True, skip_same=True):
    """Queue request_type for the device unless the same request is pending (or done, with once).

    payload: the JSON body of POST /api/mdm/devices/<id>/<action>/.
    once: not again when the device acknowledged the same request since the since option.
    replace: a pending command of that name with other arguments is canceled and this one queued
    (the task fails, naming it, when the device already fetched it); else it is left alone.
    skip_same: a pending command of the same request stands for this one.
    force (option of device_lock and device_erase): queue whatever is pending or done.
    changed means a command was queued (or would be, in check mode).
    """
    params = module.params
    force = params.get('force', False)
    since = parse_since(params.get('since'))
    device = resolve_device(client, params)
    preview = dry_run(client, device, request_type, action, payload)
    request_hash = preview.get('request_hash')

    done = acknowledged_since(client, device, request_type, request_hash, since) if once and not force else None
    pending = [] if force else list_commands(client, device['id'], name=request_type, status='pending')
    same = [c for c in pending if c.get('request_hash') == request_hash]
    others = [c for c in pending if c.get('request_hash') != request_hash] if replace else []
    replaced = []

    if done is not None:
        command, changed = done, False
        msg = '%s %s was already acknowledged by %s at %s (once: true)' % (
            request_type, done.get('uuid'), describe(device), done.get('result_time') or done.get('created_at'))
    elif same and skip_same:
        command, changed = same[0], False
        msg = '%s %s already pending for %s' % (request_type, same[0].get('uuid'), describe(device))
    else:
        for other in others:
            if not module.check_mode:
                try:
                    other = cancel_command(client, other['uuid'])
                except EspalierApiError as ex:
                    if ex.status != 409:
                        raise
                    raise EspalierModuleError(
                        'a %s with other arguments (%s, queued %s) is pending for %s and cannot be replaced: %s. '
                        'Wait for the device to answer it, or set force: true to queue this one as well'
                        % (request_type, other.get('uuid'), other.get('created_at'), describe(device), ex.detail)
                    ) from None
            replaced.append(command_summary(other))
        if module.check_mode:
            command, changed = dict(preview, status=None), True
            msg = '%s would be queued for %s (check mode)' % (request_type, describe(device))
        else:
            command, changed = client.post(device_path(device['id'], action), payload), True
            msg = '%s %s queued for %s' % (request_type, command.get('uuid'), describe(device))
        if replaced:
            msg += ', replacing %s with other arguments' % ', '.join(str(c['uuid']) for c in replaced)

    if params['wait'] and not module.check_mode and command.get('uuid') and command.get('status') in PENDING_STATUSES:
        try:
            command = wait_command(client, command['uuid'], params['wait_timeout'])
        except EspalierApiError as ex:
            # the command is queued all the same: say so in the failure
            ex.result = dict(changed=changed, command=command, device=device)
            raise
        msg = '%s: %s' % (msg, command.get('status'))

    result = dict(changed=changed, command=command, device=device, msg=msg, replaced=replaced)
    if changed:
        result['diff'] = dict(
            before=dict(pending_commands=[command_summary(c) for c in pending]),
            after=dict(pending_commands=[command_summary(c) for c in pending if command_summary(c) not in replaced]
                       + [command_summary(command)]))
    if command.get('status') in FAILED_COMMAND_STATUSES:
        result['msg'] = '%s %s for %s ended with status %s: %s' % (
            request_type, command.get('uuid'), describe(device), command['status'],
            command.get('error_chain') or 'no error chain')
        module.fail_json(**result)
    return result
