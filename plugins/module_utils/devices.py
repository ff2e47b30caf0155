# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the espalier.mdm collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

"""Enrolled devices and their command queue: lookup, platform rules, pending commands."""

from __future__ import annotations

import re
from urllib.parse import quote

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError

DEVICES_PATH = 'api/mdm/devices/'
COMMANDS_PATH = 'api/mdm/devices/commands/'

DEVICE_FIELDS = (
    'id', 'udid', 'serial_number', 'name', 'model', 'platform', 'os_version', 'build_version',
    'apple_silicon', 'cert_not_valid_after', 'blueprint', 'awaiting_configuration',
    'declarative_management', 'dep_enrollment', 'user_enrollment', 'user_approved_enrollment',
    'supervised', 'bootstrap_token_escrowed', 'filevault_enabled', 'filevault_prk_escrowed',
    'activation_lock_manageable', 'last_seen_at', 'last_notified_at', 'checkout_at', 'blocked_at',
    'created_at', 'updated_at',
)
PLATFORMS = ('macOS', 'iOS', 'iPadOS', 'tvOS', 'watchOS', 'visionOS')
MOBILE_PLATFORMS = ('iOS', 'iPadOS')
COMMAND_STATUSES = ('Acknowledged', 'Error', 'CommandFormatError', 'NotNow')
PENDING_STATUSES = (None, 'NotNow')
FINAL_COMMAND_STATUSES = ('Acknowledged', 'Error', 'CommandFormatError')
FAILED_COMMAND_STATUSES = ('Error', 'CommandFormatError')

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

LOCK_PLATFORMS = ('macOS', 'iOS', 'iPadOS', 'visionOS', 'watchOS')
LOCK_PIN_RE = re.compile(r'^[0-9]{6}$')
ERASE_PIN_RE = re.compile(r'^[a-zA-Z0-9]{6}$')
MAX_MESSAGE = 255
MAX_PHONE_NUMBER = 15


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
        raise DeviceLookupError('no enrolled device with %s %s' % (key, value))
    if len(devices) > 1:
        raise DeviceLookupError('%d enrolled devices have %s %s (ids %s): identify the device by udid or id'
                                % (len(devices), key, value, ', '.join(str(d.get('id')) for d in devices)))
    return devices[0]


def describe(device):
    return '%s device %s (id %s)' % (device.get('platform'), device.get('serial_number'), device.get('id'))


def lock_problems(device, pin, message, phone_number):
    """Reasons the API would refuse DeviceLock for this device, as the server checks them."""
    problems = _target_problems(device, 'DeviceLock', LOCK_PLATFORMS)
    macos = device.get('platform') == 'macOS'
    if macos and not pin:
        problems.append('pin is required to lock a macOS device')
    if not macos and pin:
        problems.append('pin can only be set for macOS devices, not %s' % device.get('platform'))
    if pin and not LOCK_PIN_RE.match(pin):
        problems.append('pin must be 6 digits')
    if message is not None and len(message) > MAX_MESSAGE:
        problems.append('lock_message must be at most %d characters' % MAX_MESSAGE)
    if phone_number is not None and len(phone_number) > MAX_PHONE_NUMBER:
        problems.append('phone_number must be at most %d characters' % MAX_PHONE_NUMBER)
    return problems


def _target_problems(device, request_type, platforms):
    problems = []
    if device.get('platform') not in platforms:
        problems.append('%s is not available on %s' % (request_type, device.get('platform') or 'an unknown platform'))
    if device.get('user_enrollment'):
        problems.append('%s is not available on user enrollments' % request_type)
    return problems


def erase_pin_required(device):
    """Intel Macs with a T1 or no security chip need a Find My PIN (no Activation Lock: no T2)."""
    return (device.get('platform') == 'macOS'
            and not device.get('apple_silicon')
            and not device.get('activation_lock_manageable'))


def erase_problems(device, disallow_proximity_setup, preserve_data_plan, pin):
    """Reasons the API would refuse EraseDevice for this device, as the server checks them.

    Only what the device fields settle is checked here. Whether an Intel Mac with a T2 chip
    needs a PIN depends on what it reported (PINRequiredForEraseDevice), which the API does
    not show: a PIN given for such a Mac is passed on and the server decides.
    """
    problems = _target_problems(device, 'EraseDevice', PLATFORMS)
    platform = device.get('platform')
    if platform in MOBILE_PLATFORMS:
        for name, value in (('disallow_proximity_setup', disallow_proximity_setup),
                            ('preserve_data_plan', preserve_data_plan)):
            if value is None:
                problems.append('%s is required to erase an %s device' % (name, platform))
        if pin:
            problems.append('pin cannot be set for an %s device' % platform)
        return problems
    for name, value in (('disallow_proximity_setup', disallow_proximity_setup),
                        ('preserve_data_plan', preserve_data_plan)):
        if value is not None:
            problems.append('%s can only be set for iOS and iPadOS devices, not %s' % (name, platform))
    if platform != 'macOS' or device.get('apple_silicon'):
        if pin:
            problems.append('pin can only be set for Intel Macs (this device is %s)'
                            % ('an Apple silicon Mac' if platform == 'macOS' else platform))
    elif erase_pin_required(device) and not pin:
        problems.append('pin is required to erase an Intel Mac without a T2 chip')
    elif pin and not ERASE_PIN_RE.match(pin):
        problems.append('pin must be 6 letters or digits')
    return problems


def list_commands(client, device_id=None, name=None, status=None):
    """Commands of a device (or of every device), server-side filters by name and status."""
    params = dict(enrolled_device=device_id, name=name, status=status)
    return client.list_all(COMMANDS_PATH, params)


def pending_command(client, device_id, name):
    """The most recent command of that name still waiting for the device (status null or NotNow), or None."""
    pending = [c for c in list_commands(client, device_id, name=name, status='pending')
               if c.get('name') == name and c.get('status') in PENDING_STATUSES]
    if not pending:
        return None
    return sorted(pending, key=lambda c: (c.get('created_at') or '', c.get('id') or 0))[-1]


def get_command(client, uuid):
    return client.get('%s%s/' % (COMMANDS_PATH, quote(str(uuid), safe='')))


def wait_command(client, uuid, timeout):
    """Poll a command by uuid until Acknowledged, Error or CommandFormatError."""
    return client.poll(lambda: get_command(client, uuid),
                       lambda cmd: cmd.get('status') in FINAL_COMMAND_STATUSES,
                       timeout, what='command %s' % uuid)
