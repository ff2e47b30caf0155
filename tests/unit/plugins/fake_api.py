# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""An in-memory Espalier operator API behind the client's transport boundary.

It answers (method, url, headers, body) like the server would, with the same
JSON shapes (DRF's errors, Zentral's task results), statuses and command rules, so the
modules are tested from their arguments down to the bytes they send, without a network.
tests/unit/plugins/contract.py runs the same cases through this fake and through the real
server (tests/server/api/test_collection_contract.py), so the two cannot drift apart.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import re
import uuid as uuidlib
from urllib.parse import parse_qs, urlencode, urlsplit

from ansible_collections.espalier.mdm.tests.unit.plugins import push_cert_fixtures as certs
from ansible_collections.espalier.mdm.tests.unit.plugins.fake_fleet import FakeFleet

TOKEN = 'secret-token'
OMIT = object()  # a module argument left out, as in a task that does not set it
BASE_URL = 'https://mdm.example.test'

DEVICE_DEFAULTS = dict(
    udid=None, serial_number=None, name='Test Mac', model='Macmini8,1', platform='macOS',
    os_version='14.2.1', build_version='23C71', apple_silicon=True,
    cert_not_valid_after='2030-08-05T14:44:01', blueprint=1, awaiting_configuration=False,
    declarative_management=True, dep_enrollment=True, user_enrollment=False,
    user_approved_enrollment=True, supervised=True, bootstrap_token_escrowed=True,
    filevault_enabled=True, filevault_prk_escrowed=True, activation_lock_manageable=True,
    last_seen_at='2024-02-17T20:31:34.848107', last_notified_at='2024-03-27T20:44:21.751091',
    checkout_at=None, blocked_at=None, released_at=None, created_at='2023-08-06T14:44:01.847058',
    updated_at='2024-02-17T20:31:34.848262',
    recovery_password_escrowed=False,
    # what the device reported (PINRequiredForEraseDevice / PINRequiredForDeviceLock), None: not known
    reported_pin_required_for_erase=None, reported_pin_required_for_lock=None,
)
# The fields the API answers (DEVICE_DEFAULTS also holds what only the server knows).
HIDDEN_DEVICE_FIELDS = ('reported_pin_required_for_erase', 'reported_pin_required_for_lock')
NOW = '2024-04-01T10:00:00.000000'


class FakeClock:
    """time.sleep and time.monotonic for the client: sleeping advances the clock at once."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self):
        return self.now

    def time(self):
        return self.now


class FakeApi:
    def __init__(self, page_size_cap=None, base_url=BASE_URL):
        self.base_url = base_url
        self.devices = {}
        self.commands = []
        self.tasks = {}
        self.software_updates = []  # the catalogue, newest first per platform (as the server lists it)
        self.sync_counts = dict(created=0, deleted=0, present=0)  # what the next sync task answers
        self.calls = []
        self.injected = []
        self.command_script = {}  # uuid -> statuses taken on successive reads
        self.task_script = {}  # task id -> statuses taken on successive reads
        self.push_certificates = {}
        self.locations = {}
        self.location_assets = {}
        self.apple_tokens = {}  # .vpptoken content -> what Apple says of its location
        self.ota_enrollments = {}
        self.blocked = {}
        self.dep_servers = {}
        self.dep_devices = {}
        self.dep_tokens = {}
        self.dep_uploads = []
        self.dep_sync_result = dict(added=0, modified=0, unchanged=0, deleted=0, pages=1, skipped=0)
        self.fleet = FakeFleet(self)
        self.permissions = ['mdm.add_devicecommand', 'mdm.view_enrolleddevice']
        self.paginate = True
        self.page_size_cap = page_size_cap
        self._next_id = 1

    # -- set up -------------------------------------------------------------------------

    def add_device(self, **fields):
        device_id = fields.pop('id', None) or self._new_id()
        device = dict(DEVICE_DEFAULTS, id=device_id)
        device['udid'] = 'UDID-%04d' % device_id
        device['serial_number'] = 'SERIAL%04d' % device_id
        device.update(fields)
        self.devices[device_id] = device
        return device

    def add_command(self, device, name, status=None, arguments=None, **fields):
        command = dict(
            id=self._new_id(), uuid=str(uuidlib.uuid4()), enrolled_device=device['id'], name=name,
            artifact_version=None, artifact_operation=None, not_before=None, time=None, result=None,
            result_time=None, status=status, error_chain=None,
            created_at='2024-03-28T16:27:%02d.000000' % (len(self.commands) % 60),
            updated_at='2024-03-28T16:27:05.829959',
            request_hash=self.request_hash(name, arguments or {}),
        )
        command.update(fields)
        self.commands.append(command)
        return command

    def add_push_certificate(self, name, pem=certs.FIRST, **fields):
        """A stored push certificate made from one of the fixture PEMs; fields override (not_after...)."""
        meta = self._read_certificate(pem)
        pc = dict(id=self._new_id(), name=name, topic=meta['topic'], not_before=meta['not_before'],
                  not_after=meta['not_after'], status='ok', status_message=None, certificate=pem,
                  created_at='2024-01-01T00:00:00', updated_at='2024-01-01T00:00:00')
        pc.update(fields)
        self.push_certificates[pc['id']] = pc
        return self._serialize_push_certificate(pc)

    def add_vpp_token(self, uid='lib-paris', name='Paris', org='Acme', days=365, claimed_by_other=False):
        """A .vpptoken content and what Apple answers for it (the server asks Apple on upload)."""
        expires = (datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
                   + datetime.timedelta(days=days, hours=1))
        content = base64.b64encode(json.dumps(dict(token=uuidlib.uuid4().hex, expDate=expires.isoformat() + 'Z',
                                                   orgName=org)).encode()).decode()
        self.apple_tokens[content] = dict(uid=uid, name=name, org=org, expires=expires.isoformat(),
                                          claimed_by_other=claimed_by_other)
        return content

    def add_location_asset(self, location_id, asset_id, **counts):
        la = dict(id=self._new_id(), assigned_count=0, available_count=0, retired_count=0, total_count=0,
                  created_at='2024-03-28T19:15:58.212233', updated_at='2024-03-28T19:15:58.212237',
                  location=location_id, asset=asset_id, adam_id=counts.pop('adam_id', str(asset_id)),
                  pricing_param=counts.pop('pricing_param', 'STDQ'))
        la.update(counts)
        self.location_assets[la['id']] = la
        return la

    def inject(self, status, body=None, headers=None, method=None, path=None, times=1):
        """Answer the next matching request(s) with this status instead of routing them."""
        for dummy in range(times):
            self.injected.append((method, path, status, body, headers or {}))

    def calls_to(self, method, path_re):
        return [c for c in self.calls if c[0] == method and re.search(path_re, c[1])]

    @staticmethod
    def request_hash(name, arguments):
        """As the server's: a keyed hash of the RequestType and the arguments it stores."""
        return hmac.new(b'fake-key', json.dumps([name, arguments], sort_keys=True).encode(),
                        hashlib.sha256).hexdigest()

    def _new_id(self):
        self._next_id += 1
        return self._next_id

    # -- transport ----------------------------------------------------------------------

    def __call__(self, method, url, headers, body):
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        data = json.loads(body) if body else None
        self.calls.append((method, parts.path, query, data))
        for i, (m, p, status, payload, extra) in enumerate(self.injected):
            if (m is None or m == method) and (p is None or re.search(p, parts.path)):
                del self.injected[i]
                return self._reply(status, payload, extra)
        if headers.get('Authorization') != 'Token %s' % TOKEN:
            return self._reply(401, {'detail': 'Invalid token.'})
        return self._route(method, parts.path, query, data, url)

    def call(self, method, path, query=None, body=None):
        """One request as the contract cases make it: (status, decoded JSON or None)."""
        url = BASE_URL + path + ('?' + urlencode(query) if query else '')
        status, dummy, raw = self(method, url, {'Authorization': 'Token %s' % TOKEN},
                                  json.dumps(body).encode() if body is not None else None)
        return status, json.loads(raw) if raw else None

    @staticmethod
    def _reply(status, payload, headers=None):
        raw = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
        if isinstance(raw, str):
            raw = raw.encode()
        return status, dict(headers or {}, **{'Content-Type': 'application/json'}), raw

    def _route(self, method, path, query, data, url):
        fleet = self.fleet.route(method, path, query, data or {})
        if fleet is not None:
            status, payload = fleet
            if status == 'list':
                return self._list(payload, query, path)
            return (204, {}, b'') if status == 204 else self._reply(status, payload)
        m = re.fullmatch(r'/api/mdm/devices/', path)
        if m and method == 'GET':
            devices = sorted(self.devices.values(), key=lambda d: d['id'])
            for key in ('serial_number', 'udid'):
                if query.get(key):
                    devices = [d for d in devices if d[key] == query[key]]
            return self._list([self.device_json(d) for d in devices], query, path)
        m = re.fullmatch(r'/api/mdm/devices/commands/', path)
        if m and method == 'GET':
            commands = [c for c in self.commands
                        if 'enrolled_device' not in query or c['enrolled_device'] == int(query['enrolled_device'])]
            for key in ('name', 'request_hash'):
                if query.get(key):
                    commands = [c for c in commands if c[key] == query[key]]
            if query.get('status') == 'pending':
                commands = [c for c in commands if c['status'] in (None, 'NotNow')]
            elif query.get('status'):
                commands = [c for c in commands if c['status'] == query['status']]
            commands = sorted(commands, key=lambda c: (c['created_at'], c['id']), reverse=True)  # newest first
            return self._list(commands, query, path)
        m = re.fullmatch(r'/api/mdm/devices/commands/([^/]+)/(cancel/)?', path)
        if m and method == ('POST' if m.group(2) else 'GET'):
            return self._cancel(m.group(1)) if m.group(2) else self._get_command(m.group(1))
        if path == '/api/mdm/devices/notify/' and method == 'POST':
            return self._notify(data or {})
        if path == '/api/mdm/software_updates/sync/' and method == 'POST':
            return self._sync_software_updates()
        if path == '/api/mdm/software_updates/' and method == 'GET':
            updates = [u for u in self.software_updates if not query.get('platform') or u['platform'] == query['platform']]
            return self._list(updates, query, path)
        m = re.fullmatch(r'/api/mdm/blocked_devices/(?:(\d+)/)?', path)
        if m:
            return self._blocked_devices(method, int(m.group(1)) if m.group(1) else None, query, data or {})
        if path == '/api/token_info/' and method == 'GET':
            return self._reply(200, dict(user='ansible', token_prefix=TOKEN[:8], name='tests',
                                         permissions=sorted(self.permissions), created_at='2024-01-01T00:00:00'))
        m = re.fullmatch(r'/api/mdm/ota_enrollments/(?:(\d+)/)?', path)
        if m:
            return self._ota_enrollments(method, int(m.group(1)) if m.group(1) else None, query, data or {})
        m = re.fullmatch(r'/api/mdm/devices/(\d+)/(?:(\w+)/)?', path)
        if m:
            device = self.devices.get(int(m.group(1)))
            if device is None:
                return self._reply(404, {'detail': 'No EnrolledDevice matches the given query.'})
            fleet = self.fleet.device_action(method, device, m.group(2), data or {})
            if fleet is not None:
                return self._reply(*fleet)
            return self._device_action(method, device, m.group(2), query, data or {})
        m = re.fullmatch(r'/api/mdm/push_certificates/(?:(\d+)/)?', path)
        if m:
            return self._push_certificates(method, int(m.group(1)) if m.group(1) else None, query, data or {})
        if path.startswith('/api/mdm/dep/'):
            return self._dep(method, path, query, data)
        m = re.fullmatch(r'/api/mdm/locations/(?:(\d+)/)?', path)
        if m:
            return self._locations(method, int(m.group(1)) if m.group(1) else None, query, data or {})
        if path == '/api/mdm/location_assets/' and method == 'GET':
            return self._location_asset_list(query, path)
        m = re.fullmatch(r'/api/task_result/([^/]+)/', path)
        if m and method == 'GET':
            return self._get_task(m.group(1))
        return self._reply(404, {'detail': 'Not found.'})

    def _list(self, objects, query, path):
        if not self.paginate or 'limit' not in query:
            return self._reply(200, objects)
        limit = int(query['limit'])
        if self.page_size_cap:
            limit = min(limit, self.page_size_cap)
        offset = int(query.get('offset', 0))

        def page_url(off):
            q = {k: v for k, v in query.items() if k not in ('limit', 'offset')}
            q.update(limit=limit, offset=off)
            return '%s%s?%s' % (self.base_url, path, urlencode(q))

        nxt = page_url(offset + limit) if offset + limit < len(objects) else None
        prev = page_url(max(0, offset - limit)) if offset > 0 else None
        return self._reply(200, dict(count=len(objects), next=nxt, previous=prev,
                                     results=objects[offset:offset + limit]))

    @staticmethod
    def device_json(device):
        out = {k: v for k, v in device.items() if k not in HIDDEN_DEVICE_FIELDS}
        out.update(pin_required_for_erase=FakeApi._erase_pin_required(device),
                   pin_required_for_lock=FakeApi._lock_pin_required(device))
        return out

    def _device_action(self, method, device, action, query, data):
        if action is None and method == 'GET':
            return self._reply(200, self.device_json(device))
        if action in ('block', 'unblock') and method == 'POST':
            if (action == 'block') == (device['blocked_at'] is not None):
                return self._reply(400, {'detail': 'Device already blocked.' if action == 'block'
                                         else 'Device not blocked.'})
            device['blocked_at'] = NOW if action == 'block' else None
            if action == 'block':
                device['released_at'] = device['released_at'] or NOW
            return self._reply(200, self.device_json(device))
        if action == 'release' and method == 'POST':
            device['released_at'] = device['released_at'] or NOW
            return self._reply(200, self.device_json(device))
        commands = dict(lock='DeviceLock', erase='EraseDevice', send_custom_command='CustomCommand')
        if action in commands and method == 'POST':
            return self._queue(device, commands[action], data, query)
        if action == 'commands' and method == 'POST':
            name = data.get('name')
            if not isinstance(name, str) or not name:
                return self._reply(400, {'name': ['This field is required.']})
            arguments = data.get('arguments', {})
            if not isinstance(arguments, dict):
                return self._reply(400, {'arguments': ['Expected a dictionary of items but got type "%s".'
                                                       % type(arguments).__name__]})
            return self._queue(device, name, arguments, query)
        if action in ('filevault_prk', 'recovery_password') and method == 'GET':
            return self._reply(200, {'id': device['id'], 'serial_number': device['serial_number'],
                                     action: device.get('_' + action)})
        return self._reply(405, {'detail': 'Method "%s" not allowed.' % method})

    # as server/espalier/services/commands.py: validate, then queue (or, dry_run, tell what would be)
    KNOWN_COMMANDS = ('CertificateList', 'CustomCommand', 'DeviceConfigured', 'DeviceInformation', 'DeviceLock',
                      'EraseDevice', 'InstallProfile', 'InstalledApplicationList', 'ProfileList', 'RemoveProfile',
                      'RestartDevice', 'SecurityInfo', 'ShutDownDevice')

    def _queue(self, device, name, data, query):
        if name not in self.KNOWN_COMMANDS:
            return self._reply(400, {'name': ['"%s" is not a valid choice.' % name]})
        arguments = self._arguments(device, name, data)
        if isinstance(arguments, tuple):  # (status, errors)
            return self._reply(*arguments)
        if str(query.get('dry_run', '')).lower() in ('1', 'true', 'yes', 'on'):
            return self._reply(200, dict(dry_run=True, command=dict(
                name=name, enrolled_device=device['id'], request_hash=self.request_hash(name, arguments))))
        return self._reply(201, self.add_command(device, name, arguments=arguments))

    @staticmethod
    def _erase_pin_required(device):
        if device['platform'] != 'macOS':
            return False
        if device['reported_pin_required_for_erase'] is not None:
            return device['reported_pin_required_for_erase']
        return not device['apple_silicon'] and not device['activation_lock_manageable']

    @staticmethod
    def _lock_pin_required(device):
        return device['platform'] == 'macOS' and device['reported_pin_required_for_lock'] is not False

    @staticmethod
    def _char(errors, data, name, max_length=None, pattern=None, required=False):
        """A DRF CharField: numbers read as text, DRF's texts; the value, or None."""
        if name not in data or data[name] is None:
            if required:
                errors[name] = ['This field is required.' if name not in data else 'This field may not be null.']
            return None
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            errors[name] = ['Not a valid string.']
            return None
        value = str(value).strip()
        if not value:
            errors[name] = ['This field may not be blank.']
        elif max_length and len(value) > max_length:
            errors[name] = ['Ensure this field has no more than %d characters.' % max_length]
        elif pattern and not re.fullmatch(pattern, value):
            errors[name] = ['This value does not match the required pattern.']
        return value

    @staticmethod
    def _bool(errors, data, name):
        value = data.get(name)
        if name not in data:
            errors[name] = ['This field is required.']
        elif value is None:
            errors[name] = ['This field may not be null.']
        elif str(value).lower() in ('true', '1', 'yes', 'on'):
            return True
        elif str(value).lower() in ('false', '0', 'no', 'off'):
            return False
        else:
            errors[name] = ['Must be a valid boolean.']
        return None

    def _arguments(self, device, name, data):
        """The arguments the server stores (what request_hash is made of), or (400, errors)."""
        errors, out = {}, {}
        mobile = device['platform'] in ('iOS', 'iPadOS')
        if name == 'DeviceLock':
            if device['user_enrollment'] and not mobile:
                return 400, {'detail': 'Invalid target.'}
            for field, key, length in (('message', 'Message', 255), ('phone_number', 'PhoneNumber', 15)):
                value = self._char(errors, data, field, length)
                if value:
                    out[key] = value
            if device['platform'] == 'macOS':
                pin = self._char(errors, data, 'pin', pattern='[0-9]{6}', required=self._lock_pin_required(device))
                if pin:
                    out['PIN'] = pin
        elif name == 'EraseDevice':
            if mobile:
                for field, key in (('disallow_proximity_setup', 'DisallowProximitySetup'),
                                   ('preserve_data_plan', 'PreserveDataPlan')):
                    out[key] = self._bool(errors, data, field)
            elif self._erase_pin_required(device):
                out['PIN'] = self._char(errors, data, 'pin', pattern='[a-zA-Z0-9]{6}', required=True)
        elif name == 'ProfileList':
            if 'managed_only' in data:
                out['ManagedOnly'] = self._bool(errors, data, 'managed_only')
        elif name == 'CustomCommand':
            command = self._char(errors, data, 'command', required=True)
            if command and 'RequestType' not in command:
                errors['command'] = ['Invalid property list']
            out['command'] = command
        if errors:
            return 400, errors
        return out

    def _cancel(self, uuid):
        for command in self.commands:
            if command['uuid'] == uuid:
                if command['status'] not in (None, 'NotNow'):
                    return self._reply(409, {'detail': 'the command is already %s' % command['status']})
                if command['status'] is None and command['time'] is not None:
                    return self._reply(409, {'detail': 'the device fetched this command and has not answered '
                                                       'yet: it cannot be withdrawn'})
                command.update(status='Canceled', result_time=NOW)
                return self._reply(200, command)
        return self._reply(404, {'detail': 'No DeviceCommand matches the given query.'})

    # -- blocked serial numbers and UDIDs, as server/espalier/services/blocked.py ----------

    def _blocked_devices(self, method, entry_id, query, data):
        if method == 'GET' and entry_id is None:
            found = [b for b in sorted(self.blocked.values(), key=lambda b: b['id'])
                     if all(not query.get(k) or b[k] == query[k].upper() for k in ('serial_number', 'udid'))]
            return self._list(found, query, '/api/mdm/blocked_devices/')
        if method == 'POST' and entry_id is None:
            serial, udid = ((data.get(k) or '').strip().upper() or None for k in ('serial_number', 'udid'))
            if not serial and not udid:
                return self._reply(400, {'non_field_errors': ['Give a serial_number or a udid.']})
            for entry in sorted(self.blocked.values(), key=lambda b: b['id']):
                if (serial and entry['serial_number'] == serial) or (udid and entry['udid'] == udid):
                    return self._reply(200, entry)
            entry = dict(id=self._new_id(), serial_number=serial, udid=udid, reason=data.get('reason'),
                         created_at=NOW)
            self.blocked[entry['id']] = entry
            return self._reply(201, entry)
        if method == 'DELETE' and entry_id is not None:
            if self.blocked.pop(entry_id, None) is None:
                return self._reply(404, {'detail': 'No BlockedDevice matches the given query.'})
            return 204, {}, b''
        return self._reply(405, {'detail': 'Method "%s" not allowed.' % method})

    def _notify(self, data):
        ids = data.get('devices')
        if not isinstance(ids, list) or not ids:
            return self._reply(400, {'devices': ['This field is required.']})
        task_id = str(uuidlib.uuid4())
        self.tasks[task_id] = dict(id=task_id, name='notify_devices', status='PENDING', devices=sorted(set(ids)))
        return self._reply(201, dict(task_id=task_id, task_result_url='/api/task_result/%s/' % task_id))

    def _sync_software_updates(self):
        task_id = str(uuidlib.uuid4())
        self.tasks[task_id] = dict(id=task_id, name='sync_software_updates', status='PENDING',
                                   result=dict(self.sync_counts))
        return self._reply(201, dict(task_id=task_id, task_result_url='/api/task_result/%s/' % task_id))

    def add_software_update(self, platform='macOS', version='15.1', build='24B83', public=False, **fields):
        major, minor, patch = (list(map(int, version.split('.'))) + [0, 0])[:3]
        update = dict(id=self._new_id(), platform=platform, major=major, minor=minor, patch=patch, extra='',
                      prerequisite_build='', build=build, public=public, posting_date='2024-10-28',
                      expiration_date=None, supported_devices=['J274AP'], created_at='2024-10-29T00:00:00',
                      updated_at='2024-10-29T00:00:00')
        update.update(fields)
        self.software_updates.append(update)
        return update

    # -- ADE (DEP), as server/espalier/web/api/dep.py -----------------------------------------

    def add_dep_server(self, name, **fields):
        server = dict(id=self._new_id(), name=name, uuid=str(uuidlib.uuid4()).upper(), default_enrollment=None,
                      created_at='2024-01-01T00:00:00', updated_at='2024-01-01T00:00:00')
        server.update(fields)
        self.dep_servers[server['id']] = server
        return server

    def add_dep_device(self, server, serial_number, **fields):
        device = dict(id=self._new_id(), virtual_server=server['id'], serial_number=serial_number, asset_tag='',
                      color='SPACE GRAY', description='MBP', device_family='Mac', model='MacBook Pro', os='OSX',
                      device_assigned_by='admin@example.com', device_assigned_date='2024-01-01T00:00:00',
                      last_op_type=None, last_op_date=None, profile_status='empty', profile_uuid=None,
                      profile_assign_time=None, profile_push_time=None, enrollment=None, disowned_at=None,
                      created_at='2024-01-01T00:00:00', updated_at='2024-01-01T00:00:00')
        device.update(fields)
        self.dep_devices[device['id']] = device
        return device

    def _dep_token(self, token_id, data, server=None):
        """A request (token_id None) or an upload, as server/espalier/services/dep_tokens.py."""
        if token_id is None:
            token = dict(id=self._new_id(), certificate='-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
                         virtual_server=server['id'] if server else None, consumer_key=None,
                         access_token_expiry=None, days_left=None, expiring=False, expired=False,
                         created_at='2024-01-01T00:00:00', updated_at='2024-01-01T00:00:00')
            self.dep_tokens[token['id']] = token
            return self._reply(201, token)
        token = self.dep_tokens.get(token_id)
        if token is None:
            return self._reply(404, {'detail': 'No DEPToken matches the given query.'})
        p7m = (data or {}).get('token')
        if not p7m or 'smime' not in p7m:
            return self._reply(400, {'token': ['not an S/MIME message (*_smime.p7m)']})
        self.dep_uploads.append((token_id, p7m))
        if token['virtual_server']:
            return self._reply(200, self.dep_servers[token['virtual_server']])
        server = self.add_dep_server('Uploaded server')
        token['virtual_server'] = server['id']
        return self._reply(200, server)

    def _dep(self, method, path, query, data=None):
        m = re.fullmatch(r'/api/mdm/dep/virtual_servers/(?:(\d+)/)?(sync_devices/|renew_token/)?', path)
        if m:
            if m.group(1) is None:
                if method != 'GET':
                    return self._reply(405, {'detail': 'Method not allowed.'})
                servers = sorted(self.dep_servers.values(), key=lambda vs: vs['id'])
                if query.get('name'):
                    servers = [vs for vs in servers if vs['name'] == query['name']]
                query = dict(query, limit=query.get('limit', 1000))  # always a page object
                return self._list(servers, query, path)
            server = self.dep_servers.get(int(m.group(1)))
            if server is None:
                return self._reply(404, {'detail': 'No DEPVirtualServer matches the given query.'})
            if m.group(2) == 'sync_devices/' and method == 'POST':
                task_id = str(uuidlib.uuid4())
                self.tasks[task_id] = dict(id=task_id, name='sync_dep_virtual_server_devices', status='SUCCESS',
                                           full=query.get('full_sync'),
                                           result=dict(self.dep_sync_result, status='SUCCESS'))
                return self._reply(201, dict(task_id=task_id, task_result_url='/api/task_result/%s/' % task_id))
            if not m.group(2) and method == 'GET':
                return self._reply(200, server)
            if not m.group(2) and method == 'PUT':
                default = (data or {}).get('default_enrollment')
                enrollment = self.fleet.dep_enrollments.get(default)
                if default is not None and (enrollment is None or enrollment['virtual_server'] != server['id']):
                    return self._reply(400, {'default_enrollment': ['This DEP enrollment belongs to another virtual '
                                                                    'server.']})
                server['default_enrollment'] = default
                return self._reply(200, server)
            if path.endswith('/renew_token/') and method == 'POST':
                return self._dep_token(None, None, server)
            return self._reply(405, {'detail': 'Method not allowed.'})
        m = re.fullmatch(r'/api/mdm/dep/tokens/(?:(\d+)/upload/)?', path)
        if m and method == 'POST':
            return self._dep_token(int(m.group(1)) if m.group(1) else None, data)
        m = re.fullmatch(r'/api/mdm/dep/devices/(\d+)/disown/', path)
        if m and method == 'POST' and int(m.group(1)) in self.dep_devices:
            self.dep_devices[int(m.group(1))]['disowned_at'] = NOW
            return self._reply(200, {'result': 'SUCCESS'})
        m = re.fullmatch(r'/api/mdm/dep/devices/(\d+)/', path)
        if m and method == 'PUT':
            device = self.dep_devices.get(int(m.group(1)))
            enrollment = self.fleet.dep_enrollments.get((data or {}).get('enrollment'))
            if device is None:
                return self._reply(404, {'detail': 'Not found.'})
            if enrollment is None or enrollment['virtual_server'] != device['virtual_server']:
                return self._reply(400, {'enrollment': ['The enrollment and the device belong to different virtual '
                                                        'servers.']})
            device.update(enrollment=enrollment['id'], profile_uuid=enrollment['profile_uuid'], profile_status='assigned')
            return self._reply(200, device)
        if path == '/api/mdm/dep/devices/' and method == 'GET':
            devices = sorted(self.dep_devices.values(), key=lambda d: d['created_at'], reverse=True)
            for key in ('serial_number', 'profile_status', 'profile_uuid', 'device_family'):
                if query.get(key):
                    devices = [d for d in devices if d[key] == query[key]]
            for key in ('virtual_server', 'enrollment'):
                if query.get(key):
                    devices = [d for d in devices if d[key] == int(query[key])]
            query = dict(query, limit=min(int(query.get('limit', 50)), 500))  # always a page, 500 at most
            return self._list(devices, query, path)
        return self._reply(404, {'detail': 'Not found.'})

    # -- OTA enrollments, as server/espalier/services/enrollments.py -----------------------

    OTA_FIELDS = ('name', 'display_name', 'push_certificate', 'blueprint', 'identity_source', 'attestation',
                  'scep_url', 'scep_challenge', 'reusable', 'quota')

    def add_ota_enrollment(self, name, **fields):
        enrollment = dict(id=self._new_id(), name=name, display_name=name, push_certificate=1, blueprint=None,
                          identity_source='builtin', attestation='apple', scep_url=None, reusable=False, quota=None,
                          secret='s3cr3t%d' % self._next_id, secret_used_at=None,
                          created_at='2024-06-01T00:00:00', updated_at='2024-06-01T00:00:00')
        enrollment.update(fields)
        self.ota_enrollments[enrollment['id']] = enrollment
        return self._serialize_ota_enrollment(enrollment)

    def _serialize_ota_enrollment(self, e):
        public = {k: v for k, v in e.items() if k != 'scep_challenge'}
        return dict(public, enroll_url='%s/public/enroll/%s/' % (self.base_url, e['secret']))

    def _ota_enrollments(self, method, enrollment_id, query, data):
        if method == 'GET' and enrollment_id is None:
            found = [e for e in sorted(self.ota_enrollments.values(), key=lambda e: e['id'])
                     if 'name' not in query or e['name'] == query['name']]
            return self._list([self._serialize_ota_enrollment(e) for e in found], query, '/api/mdm/ota_enrollments/')
        if method == 'POST' and enrollment_id is None:
            return self._write_ota_enrollment(None, data)
        e = self.ota_enrollments.get(enrollment_id)
        if e is None:
            return self._reply(404, {'detail': 'no OTA enrollment %s' % enrollment_id})
        if method == 'GET':
            return self._reply(200, self._serialize_ota_enrollment(e))
        if method == 'PUT':
            return self._write_ota_enrollment(e, data)
        if method == 'DELETE':
            del self.ota_enrollments[enrollment_id]
            return 204, {}, b''
        return self._reply(405, {'detail': 'Method "%s" not allowed.' % method})

    def _write_ota_enrollment(self, e, data):
        data = {k: v for k, v in data.items() if k in self.OTA_FIELDS}  # DRF ignores unknown fields
        errors = {}
        if e is None:
            errors.update({k: ['This field is required.'] for k in ('name', 'push_certificate') if k not in data})
        if 'push_certificate' in data and data['push_certificate'] not in self.push_certificates:
            errors['push_certificate'] = ['Invalid pk "%s" - object does not exist.' % data['push_certificate']]
        if 'attestation' in data and data['attestation'] not in ('apple', 'none'):
            errors['attestation'] = ['"%s" is not a valid choice.' % data['attestation']]
        name = data.get('name', e and e['name'])
        if any(o['name'] == name and o is not e for o in self.ota_enrollments.values()):
            errors['name'] = ['OTA enrollment with this name already exists.']
        if errors:
            return self._reply(400, errors)
        if e is None:
            e = dict(id=self._new_id(), display_name=data['name'], blueprint=None, identity_source='builtin',
                     attestation='apple', scep_url=None, reusable=False, quota=None, secret='s3cr3t%d' % self._next_id,
                     secret_used_at=None, created_at='2024-06-01T00:00:00')
            self.ota_enrollments[e['id']] = e
            status = 201
        else:
            status = 200
        e.update({k: v.strip() if isinstance(v, str) and k in ('name', 'display_name') else v for k, v in data.items()})
        e['updated_at'] = '2024-06-02T00:00:00'
        return self._reply(status, self._serialize_ota_enrollment(e))

    def _get_command(self, uuid):
        for command in self.commands:
            if command['uuid'] == uuid:
                script = self.command_script.get(uuid)
                if script:
                    command['status'] = script.pop(0)
                return self._reply(200, command)
        return self._reply(404, {'detail': 'No DeviceCommand matches the given query.'})

    def _get_task(self, task_id):
        """Zentral's shape: Celery's words, unready while PENDING or STARTED, UNKNOWN ids are no error."""
        task = self.tasks.get(task_id)
        if task is None:
            return self._reply(200, dict(id=task_id, status='UNKNOWN', unready=True))
        script = self.task_script.get(task_id)
        if script:
            task['status'] = script.pop(0)
        out = dict(id=task['id'], name=task['name'], status=task['status'],
                   unready=task['status'] in ('PENDING', 'STARTED'))
        if not out['unready']:
            out['result'] = task.get('result')
        for key in ('progress', 'error'):
            if task.get(key) is not None:
                out[key] = task[key]
        return self._reply(200, out)

    # -- push certificates, as server/espalier/services/push_certificates.py ------------

    @staticmethod
    def _read_certificate(pem):
        """The fixture's metadata, found by fingerprint (None: not one of the fixture certificates)."""
        match = re.search(r'-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----', pem or '', re.DOTALL)
        if not match:
            return None
        sha256 = hashlib.sha256(base64.b64decode(re.sub(r'\s+', '', match.group(1)))).hexdigest()
        return next((meta for meta in certs.EXPECTED.values() if meta['fingerprint'] == sha256), None)

    @staticmethod
    def _serialize_push_certificate(pc):
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        left = datetime.datetime.fromisoformat(pc['not_after']) - now
        status = 'expired' if left.total_seconds() <= 0 else pc['status']
        return dict(pc, days_left=left.days, expiring=left <= datetime.timedelta(days=30), status=status)

    LOCATION_FIELDS = ('id', 'server_token_expiration_date', 'organization_name', 'name', 'country_code',
                       'library_uid', 'platform', 'website_url', 'mdm_info_id', 'created_at', 'updated_at',
                       'days_left', 'expiring')

    def _location_json(self, loc):
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        left = datetime.datetime.fromisoformat(loc['server_token_expiration_date']) - now
        out = {k: loc.get(k) for k in self.LOCATION_FIELDS}
        out.update(days_left=left.days, expiring=left <= datetime.timedelta(days=30))
        return out

    def _locations(self, method, location_id, query, data):
        if method == 'GET' and location_id is None:
            found = [loc for loc in sorted(self.locations.values(), key=lambda loc: (loc['name'], loc['id']))
                     if all(loc[k] == query[k] for k in ('name', 'organization_name') if query.get(k))]
            return self._list([self._location_json(loc) for loc in found], query, '/api/mdm/locations/')
        if method == 'POST' and location_id is None:
            return self._upload_location(data, dry_run=query.get('dry_run') in ('1', 'true'))
        loc = self.locations.get(location_id)
        if loc is None:
            return self._reply(404, {'detail': 'No Location matches the given query.'})
        if method == 'GET':
            return self._reply(200, self._location_json(loc))
        if method == 'DELETE':
            del self.locations[location_id]
            return 204, {}, b''
        return self._reply(405, {'detail': 'Method "%s" not allowed.' % method})

    def _upload_location(self, data, dry_run):
        apple = self.apple_tokens.get(data.get('server_token'))
        if apple is None:
            return self._reply(400, {'server_token': [
                'Apple refused this token (expired, revoked, or replaced by a newer download)']})
        existing = next((loc for loc in self.locations.values() if loc['library_uid'] == apple['uid']), None)
        if apple['claimed_by_other'] and str(data.get('force')).lower() not in ('true', '1'):
            return self._reply(409, {'detail': "location %r is managed by another MDM server ('Other', "
                                               "'other.example.com'): force: true to take it over" % apple['name']})
        mdm_info_id = existing['mdm_info_id'] if existing else str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, apple['uid']))
        if existing and existing['_token'] == data['server_token']:
            action = 'unchanged'
        else:
            action = 'renewed' if existing else 'created'
        loc = dict(existing or dict(id=0, created_at=None, updated_at=None), name=apple['name'],
                   organization_name=apple['org'], country_code='FR', library_uid=apple['uid'],
                   platform='enterprisestore', website_url='https://business.apple.com', mdm_info_id=mdm_info_id,
                   server_token_expiration_date=apple['expires'], _token=data['server_token'])
        if dry_run:
            return self._reply(200, dict(dry_run=True, action=action, changed=action != 'unchanged',
                                         claimed_by=None, location=self._location_json(loc)))
        if action == 'unchanged':
            return self._reply(200, self._location_json(existing))
        if not existing:
            loc.update(id=self._new_id(), created_at=NOW)
            apple['claimed_by_other'] = False
        loc['updated_at'] = NOW
        self.locations[loc['id']] = loc
        return self._reply(201 if action == 'created' else 200, self._location_json(loc))

    def _location_asset_list(self, query, path):
        found = sorted(self.location_assets.values(), key=lambda la: la['id'])
        if query.get('location_id'):
            if not query['location_id'].isdigit() or int(query['location_id']) not in self.locations:
                return self._reply(400, {'location_id': [
                    'Select a valid choice. That choice is not one of the available choices.']})
            found = [la for la in found if la['location'] == int(query['location_id'])]
        for key in ('adam_id', 'pricing_param'):
            if query.get(key):
                found = [la for la in found if la[key] == query[key]]
        hidden = ('adam_id', 'pricing_param')
        return self._list([{k: v for k, v in la.items() if k not in hidden} for la in found], query, path)

    def _push_certificates(self, method, cert_id, query, data):
        if method == 'GET' and cert_id is None:
            unknown = sorted(set(query) - {'name', 'topic'})
            if unknown:
                return self._reply(400, {'detail': 'unknown query parameter(s): %s' % ', '.join(unknown),
                                         'errors': {k: ['unknown query parameter'] for k in unknown}})
            found = [pc for pc in sorted(self.push_certificates.values(), key=lambda pc: pc['id'])
                     if all(pc[k] == query[k] for k in ('name', 'topic') if k in query)]
            return self._reply(200, [self._serialize_push_certificate(pc) for pc in found])
        if method == 'POST' and cert_id is None:
            return self._write_push_certificate(None, data)
        pc = self.push_certificates.get(cert_id)
        if pc is None:
            return self._reply(404, {'detail': 'no push certificate %s' % cert_id})
        if method == 'GET':
            return self._reply(200, self._serialize_push_certificate(pc))
        if method == 'PUT':
            return self._write_push_certificate(pc, data)
        return self._reply(405, {'detail': 'Method "%s" not allowed.' % method})

    def _write_push_certificate(self, pc, data):
        def error(field, message, detail=None):
            return self._reply(400, {field: [detail or message]})

        meta = self._read_certificate(data.get('certificate'))
        if meta is None:
            return error('certificate', 'not a PEM certificate')
        if not data.get('private_key'):
            return error('private_key', "required: the push certificate's private key in PEM form")
        if 'WRONG' in data['private_key']:
            return error('private_key', 'does not match the certificate')
        name = data.get('name')
        if pc is None:
            existing = next((o for o in self.push_certificates.values() if o['topic'] == meta['topic']), None)
            if existing:
                return error('certificate', 'topic already exists',
                             'a push certificate for topic %s already exists (#%s %r): renew the existing '
                             'certificate instead' % (meta['topic'], existing['id'], existing['name']))
            if any(o['name'] == name for o in self.push_certificates.values()):
                return error('name', 'already exists')
            pc = dict(id=self._new_id(), name=name, topic=meta['topic'], created_at='2024-06-01T00:00:00')
            self.push_certificates[pc['id']] = pc
            status = 201
        else:
            if meta['topic'] != pc['topic']:
                return error('certificate', 'topic differs',
                             "the new certificate's topic %s differs from this certificate's topic %s: renew "
                             "the existing certificate in Apple's portal (Renew, not Create) so the topic "
                             "stays the same" % (meta['topic'], pc['topic']))
            if str(data.get('force', '')).lower() not in ('true', '1', 'yes', 'on'):
                now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None).isoformat()
                if meta['not_after'] <= now:
                    return error('certificate', 'this certificate expired on %s: upload the renewal downloaded '
                                 "from Apple's portal (force: true to use it anyway)" % meta['not_after'][:10])
                if meta['not_after'] < pc['not_after']:
                    return error('certificate', 'this certificate expires on %s, before the current one (%s): '
                                 'is it an older download? (force: true to use it anyway)'
                                 % (meta['not_after'][:10], pc['not_after'][:10]))
            if name is not None:
                pc['name'] = name
            status = 200
        pc.update(not_before=meta['not_before'], not_after=meta['not_after'], status='ok', status_message=None,
                  certificate=data['certificate'], updated_at='2024-06-01T00:00:00')
        return self._reply(status, self._serialize_push_certificate(pc))
