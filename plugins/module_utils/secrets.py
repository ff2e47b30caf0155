# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the espalier.mdm collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

"""The secrets a device escrowed with the server (FileVault PRK, recovery password): read, never shown."""

from __future__ import annotations

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierApiError
from ansible_collections.espalier.mdm.plugins.module_utils.devices import (
    DeviceLookupError, describe, device_path, resolve_device,
)

WHAT = dict(filevault_prk='FileVault personal recovery key', recovery_password='recovery password')


def read_secret(client, params, field):
    """The result of an _info module for one secret field: {device, <field>, escrowed, msg}.

    With the device's id the secret endpoint is asked at once (it answers with the id and
    serial number); with a serial number or UDID the device is looked up first. The secret
    goes into the result only, never into msg.
    """
    if params.get('id') is not None:
        try:
            answer = client.get(device_path(params['id'], field))
        except EspalierApiError as ex:
            if ex.status == 404 and 'device' in str(ex.detail).lower():
                raise DeviceLookupError('no enrolled device with id %s' % params['id']) from None
            raise
        device = dict(id=answer.get('id'), serial_number=answer.get('serial_number'))
    else:
        found = resolve_device(client, params)
        answer = client.get(device_path(found['id'], field))
        device = dict(id=found['id'], serial_number=found.get('serial_number'), platform=found.get('platform'))
    value = answer.get(field)
    escrowed = value not in (None, '')
    msg = '%s of %s %s' % (WHAT[field], describe(device) if device.get('platform') else
                           'device %s (id %s)' % (device.get('serial_number'), device.get('id')),
                           'read' if escrowed else 'not escrowed')
    return {'changed': False, 'device': device, field: value if escrowed else None, 'escrowed': escrowed, 'msg': msg}
