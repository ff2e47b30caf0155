# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the espalier.mdm collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

"""Enrolled devices and their command queue: lookup, platform rules, pending commands."""

from __future__ import annotations

from urllib.parse import quote

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError

DEVICES_PATH = 'api/mdm/devices/'
COMMANDS_PATH = 'api/mdm/devices/commands/'

DEVICE_FIELDS = (
    'id', 'udid', 'serial_number', 'name', 'model', 'platform', 'os_version', 'build_version',
    'apple_silicon', 'cert_not_valid_after', 'blueprint', 'awaiting_configuration',
    'declarative_management', 'dep_enrollment', 'user_enrollment', 'user_approved_enrollment',
    'supervised', 'bootstrap_token_escrowed', 'filevault_enabled', 'filevault_prk_escrowed',
    'recovery_password_escrowed', 'activation_lock_manageable', 'pin_required_for_erase', 'pin_required_for_lock',
    'last_seen_at', 'last_notified_at', 'checkout_at', 'blocked_at', 'released_at', 'created_at', 'updated_at',
)
COMMAND_STATUSES = ('Acknowledged', 'Error', 'CommandFormatError', 'NotNow', 'Canceled')
PENDING_STATUSES = (None, 'NotNow')
# Canceled: withdrawn before the device fetched it (by an operator, or replaced by device_lock)
FINAL_COMMAND_STATUSES = ('Acknowledged', 'Error', 'CommandFormatError', 'Canceled')
ERROR_COMMAND_STATUSES = ('Error', 'CommandFormatError')  # the device refused it
FAILED_COMMAND_STATUSES = ERROR_COMMAND_STATUSES + ('Canceled',)

# The keys a device can be identified by, in order of precedence.
DEVICE_KEYS = ('id', 'udid', 'serial_number')

DEVICE_ARGSPEC = dict(
    id=dict(type='int'),
    serial_number=dict(type='str'),
    udid=dict(type='str'),
)
DEVICE_ARG_RULES = dict(
    mutually_exclusive=[DEVICE_KEYS],
    required_one_of=[DEVICE_KEYS],
)


def pin_argument(value, name='pin', length=6):
    """A PIN option as a string; a number is taken only when it kept its digits.

    YAML reads an unquoted 123456 as a number, which is fine, but 012345 as the octal number
    5349 and 001234 as 1234: the leading zeros are gone and cannot be put back, so such a
    number is refused with a hint to quote the PIN.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if value >= 0 and len(str(value)) == length:
            return str(value)
        # The value is not repeated: it is a secret, and Ansible would mask it anyway.
        raise EspalierModuleError(
            '%s is a number with fewer than %d digits: YAML drops the leading zeros of an unquoted PIN and reads '
            'one that starts with 0 as an octal number. Quote the PIN in YAML (%s: "<the %d digits>")'
            % (name, length, name, length))
    raise EspalierModuleError('%s must be a string of %d characters' % (name, length))


class DeviceLookupError(EspalierModuleError):
    """The device selector matched no device, or more than one."""


class NoSuchDevice(DeviceLookupError):
    """No enrolled device matches the selector."""


def device_path(device_id, action=None):
    return '%s%s/%s' % (DEVICES_PATH, int(device_id), '%s/' % action if action else '')


def device_selector(params):
    """The (key, value) the user identified the device by."""
    for key in DEVICE_KEYS:
        if params.get(key) is not None:
            return key, params[key]
    raise DeviceLookupError('one of %s is required' % ', '.join(DEVICE_KEYS))


def get_device(client, device_id):
    return client.get(device_path(device_id))


def _spellings(value):
    """The value as given, then upper- and lower-case: the API filters match exactly."""
    value = str(value).strip()
    return list(dict.fromkeys((value, value.upper(), value.lower())))


def find_devices(client, key, value):
    """Every device matching id, udid or serial_number (a 404 on id is no match).

    Serial numbers and UDIDs match whatever their case: the API's filters are exact, so the
    value is asked as given first (one request when it is spelled as stored), then upper-
    and lower-case.
    """
    if key == 'id':
        device = client.get_or_none(device_path(value))
        return [device] if device is not None else []
    wanted = str(value).strip().casefold()
    found = {}
    for spelling in _spellings(value):
        for device in client.list_all(DEVICES_PATH, {key: spelling}):
            if str(device.get(key) or '').casefold() == wanted:
                found.setdefault(device.get('id'), device)
        if found:
            break
    return [found[k] for k in sorted(found, key=lambda i: (i is None, i or 0))]


def resolve_device(client, params):
    """The one device identified by params (id, udid or serial_number)."""
    key, value = device_selector(params)
    devices = find_devices(client, key, value)
    if not devices:
        raise NoSuchDevice('no enrolled device with %s %s' % (key, value))
    if len(devices) > 1:
        raise DeviceLookupError('%d enrolled devices have %s %s (ids %s): identify the device by udid or id'
                                % (len(devices), key, value, ', '.join(str(d.get('id')) for d in devices)))
    return devices[0]


def describe(device):
    return '%s device %s (id %s)' % (device.get('platform'), device.get('serial_number'), device.get('id'))


def list_commands(client, device_id=None, name=None, status=None, request_hash=None):
    """Commands of a device (or of every device), newest first; server-side filters."""
    params = dict(enrolled_device=device_id, name=name, status=status, request_hash=request_hash)
    return client.list_all(COMMANDS_PATH, params)


def command_summary(command):
    """What a diff shows of a command: never its arguments (a PIN), only what names it."""
    return dict(name=command.get('name'), uuid=command.get('uuid'), request_hash=command.get('request_hash'))


def cancel_command(client, uuid):
    """Withdraw a command the device has not fetched (the server answers 409 once it has)."""
    return client.post('%s%s/cancel/' % (COMMANDS_PATH, quote(str(uuid), safe='')))


def get_command(client, uuid):
    return client.get('%s%s/' % (COMMANDS_PATH, quote(str(uuid), safe='')))


def wait_command(client, uuid, timeout):
    """Poll a command by uuid until Acknowledged, Error or CommandFormatError."""
    return client.poll(lambda: get_command(client, uuid),
                       lambda cmd: cmd.get('status') in FINAL_COMMAND_STATUSES,
                       timeout, what='command %s' % uuid)
