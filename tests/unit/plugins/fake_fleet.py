# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""The fleet declaration part of the fake operator API: tags, machine tags, blueprints, artifacts,
profile and declaration versions, blueprint artifacts, device artifact rows, FileVault and recovery
password configurations and software update enforcements, with the server's shapes, defaults and the
refusals the modules meet (duplicate names, unknown references, Zentral's validation rules)."""

from __future__ import annotations

import re
import uuid as uuidlib

SCOPE_DEFAULTS = dict(
    {'%s%s' % (p, s): (False if not s else '') for p in ('ios', 'ipados', 'macos', 'tvos')
     for s in ('', '_min_version', '_max_version')},
    shard_modulo=100, default_shard=100, excluded_tags=[], tag_shards=[])
STORE_APP_DEFAULTS = dict(associated_domains=[], associated_domains_enable_direct_downloads=False, vpn_uuid=None,
                          content_filter_uuid=None, dns_proxy_uuid=None, prevent_backup=False, removable=False,
                          remove_on_unenroll=True)
STAMPS = dict(created_at='2024-06-01T00:00:00', updated_at='2024-06-01T00:00:00')
DECLARATION_TYPES = ('Activation', 'Asset', 'Configuration', 'Management')
ARTIFACT_TYPES = ('Profile',) + DECLARATION_TYPES + ('Store App',)
COLLECTIONS_RE = (r'/(api/(?:inventory/tags|mdm/blueprints|mdm/artifacts|mdm/profiles|mdm/declarations|mdm/store_apps'
                  r'|mdm/blueprint_artifacts|mdm/filevault_configs|mdm/recovery_password_configs'
                  r'|mdm/software_update_enforcements|mdm/dep_enrollments))/(?:([^/]+)/)?')
# what a DEP enrollment holds at Apple: a change defines a new profile (a new profile_uuid)
DEP_APPLE_FIELDS = ('name', 'display_name', 'is_supervised', 'is_mandatory', 'is_mdm_removable', 'is_multi_user',
                    'await_device_configured', 'auto_advance_setup', 'allow_pairing', 'include_tls_certificates',
                    'skip_setup_items', 'language', 'region', 'department', 'org_magic', 'support_phone_number',
                    'support_email_address')
DEP_DEFAULTS = dict(blueprint=None, is_supervised=True, is_mandatory=True, is_mdm_removable=False, is_multi_user=True,
                    await_device_configured=True, auto_advance_setup=False, allow_pairing=False,
                    include_tls_certificates=False, skip_setup_items=[], language='', region='', department='',
                    org_magic='', support_phone_number='', support_email_address='', ios_min_version='',
                    ios_max_version='', macos_min_version='', macos_max_version='', admin_full_name=None,
                    admin_short_name=None, hidden_admin=True, admin_password_complexity=3,
                    admin_password_rotation_delay=60, use_realm_user=False, realm_user_is_admin=False,
                    username_pattern='', realm=None, acme_issuer=None, scep_issuer=None, defined_at=STAMPS['created_at'])


class FakeFleet:
    def __init__(self, api):
        self.api = api
        self.tags = {}
        self.machine_tags = {}  # serial number -> set of tag ids
        self.blueprints = {}
        self.artifacts = {}
        self.profiles = {}
        self.blueprint_artifacts = {}
        self.device_artifacts = {}  # device id -> rows
        self.declarations = {}
        self.store_apps = {}
        self.filevault_configs = {}
        self.recovery_password_configs = {}
        self.software_update_enforcements = {}
        self.dep_enrollments = {}
        # Zentral returns a static password in the clear; False: a server that keeps it to itself (null)
        self.reveal_static_password = True
        self.collections = {
            'api/inventory/tags': (self.tags, self._tag),
            'api/mdm/blueprints': (self.blueprints, self._blueprint),
            'api/mdm/artifacts': (self.artifacts, self._artifact),
            'api/mdm/profiles': (self.profiles, self._profile),
            'api/mdm/blueprint_artifacts': (self.blueprint_artifacts, self._blueprint_artifact),
            'api/mdm/declarations': (self.declarations, self._declaration),
            'api/mdm/store_apps': (self.store_apps, self._store_app),
            'api/mdm/filevault_configs': (self.filevault_configs, self._filevault_config),
            'api/mdm/recovery_password_configs': (self.recovery_password_configs, self._recovery_password_config),
            'api/mdm/software_update_enforcements': (self.software_update_enforcements,
                                                     self._software_update_enforcement),
            'api/mdm/dep_enrollments': (self.dep_enrollments, self._dep_enrollment),
        }

    # -- what the tests set up ----------------------------------------------------------------

    def add(self, collection, **fields):
        objects, make = self.collections[collection]
        status, obj = make(None, fields)
        assert status == 201, obj
        return obj

    # -- routing ----------------------------------------------------------------------------------

    def route(self, method, path, query, data):
        """(status, payload) or None when the path is not the fleet's."""
        m = re.fullmatch(r'/api/inventory/machines/([^/]+)/tags/', path)
        if m and method == 'GET':
            ids = self.machine_tags.get(m.group(1), set())
            return 200, dict(serial_number=m.group(1),
                             tags=sorted((self.tags[i] for i in ids), key=lambda t: (t['name'], t['id'])))
        if path == '/api/inventory/machines/tags/' and method == 'POST':
            return self._tag_machines(data)
        m = re.fullmatch(r'/api/mdm/artifact_versions/([^/]+)/status/', path)
        if m and method == 'GET':
            counts = dict.fromkeys(('pending', 'installed', 'failed', 'removed'), 0)
            for rows in self.device_artifacts.values():
                for row in rows:
                    if row['artifact_version'] == m.group(1):
                        counts[row['status']] += 1
            return 200, dict(artifact_version=m.group(1), counts=counts)
        if path == '/api/mdm/device_artifacts/' and method == 'GET':
            rows = [r for device_id in sorted(self.device_artifacts) for r in self.device_artifacts[device_id]]
            for field in ('status', 'artifact', 'enrolled_device'):
                if field in query:
                    rows = [r for r in rows if str(r[field]) == str(query[field])]
            return 'list', rows
        m = re.fullmatch(COLLECTIONS_RE, path)
        if not m:
            return None
        objects, make = self.collections[m.group(1)]
        key = m.group(2)
        if key is None:
            if method == 'GET':
                found = [o for o in objects.values() if not query.get('name') or o.get('name') == query['name']]
                return 'list', [self._shown(m.group(1), o) for o in found]
            if method == 'POST':
                return self._answer(m.group(1), make(None, data))
            return 405, {'detail': 'Method "%s" not allowed.' % method}
        key = int(key) if key.isdigit() else key
        obj = objects.get(key)
        if obj is None:
            return 404, {'detail': 'Not found.'}
        if method == 'GET':
            return 200, self._shown(m.group(1), obj)
        if method == 'PUT':
            return self._answer(m.group(1), make(obj, data))
        if method == 'DELETE':
            refusal = self._refuse_delete(m.group(1), obj)
            if refusal:
                return 400, [refusal]
            del objects[key]
            return 204, None
        return 405, {'detail': 'Method "%s" not allowed.' % method}

    def _shown(self, collection, obj):
        """An object as the API answers it (a static password only when the server reveals it)."""
        if collection == 'api/mdm/recovery_password_configs' and not self.reveal_static_password:
            return dict(obj, static_password=None)
        return obj

    def _answer(self, collection, reply):
        status, obj = reply
        return (status, self._shown(collection, obj)) if status in (200, 201) else reply

    def device_action(self, method, device, action, data):
        """The device routes of the fleet: PATCH (blueprint) and artifacts/; None for the others."""
        if action is None and method == 'PATCH':
            blueprint = data.get('blueprint')
            if blueprint is not None and blueprint not in self.blueprints:
                return 400, {'blueprint': ['Invalid pk "%s" - object does not exist.' % blueprint]}
            device['blueprint'] = blueprint
            return 200, self.api.device_json(device)
        if action == 'artifacts' and method == 'GET':
            return 200, self.device_artifacts.get(device['id'], [])
        return None

    # -- the objects --------------------------------------------------------------------------

    def _unique_name(self, objects, obj, data, what):
        name = data.get('name', obj and obj.get('name'))
        if not name:
            return {'name': ['This field is required.']}
        if any(o.get('name') == name and o is not obj for o in objects.values()):
            return {'name': ['%s with this name already exists.' % what]}
        return None

    def _save(self, objects, obj, fields, defaults, new_id):
        status = 200
        if obj is None:
            obj = dict(defaults, id=new_id(), **STAMPS)
            objects[obj['id']] = obj
            status = 201
        obj.update(fields)
        obj['updated_at'] = '2024-06-02T00:00:00'
        return status, obj

    def _int_id(self):
        return self.api._new_id()

    @staticmethod
    def _uuid():
        return str(uuidlib.uuid4())

    def _tag(self, obj, data):
        error = self._unique_name(self.tags, obj, data, 'tag')
        if error:
            return 400, error
        color = data.get('color')
        if color is not None and not re.fullmatch(r'[0-9a-fA-F]{6}', color):
            return 400, {'color': ['Enter a valid value.']}
        fields = {k: data[k] for k in ('name', 'taxonomy', 'meta_business_unit') if k in data}
        if color is not None:
            fields['color'] = color.lower()
        return self._save(self.tags, obj, fields, dict(taxonomy=None, meta_business_unit=None, color='0079bf'),
                          self._int_id)

    def _blueprint(self, obj, data):
        error = self._unique_name(self.blueprints, obj, data, 'blueprint')
        if error:
            return 400, error
        fields = {k: data[k] for k in ('name', 'inventory_interval', 'collect_apps', 'collect_certificates',
                                       'collect_profiles', 'legacy_profiles_via_ddm') if data.get(k) is not None}
        for field, objects in (('filevault_config', self.filevault_configs),
                               ('recovery_password_config', self.recovery_password_configs)):
            if field in data:
                if data[field] is not None and data[field] not in objects:
                    return 400, {field: ['Invalid pk "%s" - object does not exist.' % data[field]]}
                fields[field] = data[field]
        if 'software_update_enforcements' in data:
            for pk in data['software_update_enforcements'] or []:
                if pk not in self.software_update_enforcements:
                    return 400, {'software_update_enforcements': ['Invalid pk "%s" - object does not exist.' % pk]}
            fields['software_update_enforcements'] = list(data['software_update_enforcements'] or [])
        return self._save(self.blueprints, obj, fields, dict(
            inventory_interval=86400, collect_apps=0, collect_certificates=0, collect_profiles=0, default_location=None,
            filevault_config=None, recovery_password_config=None, software_update_enforcements=[],
            legacy_profiles_via_ddm=True), self._int_id)

    def _artifact(self, obj, data):
        error = self._unique_name(self.artifacts, obj, data, 'artifact')
        if error:
            return 400, error
        if data.get('type') is not None and data['type'] not in ARTIFACT_TYPES:
            return 400, {'type': ['"%s" is not a valid choice.' % data['type']]}
        fields = {k: v for k, v in data.items() if v is not None and k in (
            'name', 'type', 'channel', 'platforms', 'requires', 'install_during_setup_assistant', 'auto_update',
            'reinstall_interval', 'reinstall_on_os_update')}
        return self._save(self.artifacts, obj, fields, dict(
            type='Profile', channel='Device', platforms=['iOS', 'iPadOS', 'macOS', 'tvOS'], requires=[],
            install_during_setup_assistant=False, auto_update=True, reinstall_interval=0,
            reinstall_on_os_update='No'), self._uuid)

    def _scope(self, data):
        return {k: data.get(k, v) for k, v in SCOPE_DEFAULTS.items()}

    def _profile(self, obj, data):
        if data.get('artifact') not in self.artifacts:
            return 400, {'artifact': ['Invalid pk "%s" - object does not exist.' % data.get('artifact')]}
        if any(p['artifact'] == data['artifact'] and p['version'] == data.get('version') and p is not obj
               for p in self.profiles.values()):
            return 400, {'version': ['A version of this artifact with the same version number already exists']}
        fields = dict(self._scope(data), artifact=data['artifact'], version=data['version'], source=data['source'])
        return self._save(self.profiles, obj, fields, {}, self._uuid)

    def _declaration(self, obj, data):
        artifact = self.artifacts.get(data.get('artifact'))
        if artifact is None:
            return 400, {'artifact': ['Invalid pk "%s" - object does not exist.' % data.get('artifact')]}
        if artifact['type'] not in DECLARATION_TYPES:
            return 400, {'artifact': ['Not a declaration artifact']}
        if any(d['artifact'] == data['artifact'] and d['version'] == data.get('version') and d is not obj
               for d in self.declarations.values()):
            return 400, {'version': ['A version of this artifact with the same version number already exists']}
        source = data.get('source')
        if not isinstance(source, dict) or not source.get('Type') or not source.get('Identifier'):
            return 400, {'source': ['Invalid declaration']}
        kind = source['Type'].split('.')[2] if source['Type'].count('.') >= 3 else ''
        if kind.capitalize() != artifact['type']:
            return 400, {'source': ['A %s declaration in a %s artifact' % (source['Type'], artifact['type'])]}
        source = {k: v for k, v in source.items() if k != 'ServerToken'}
        fields = dict(self._scope(data), artifact=data['artifact'], version=data['version'], source=source,
                      type=source['Type'], identifier=source['Identifier'])
        status, saved = self._save(self.declarations, obj, fields, {}, self._uuid)
        saved['server_token'] = '%s-%s' % (saved['id'], self._uuid()[:8])  # a new token at every save
        return status, saved

    def _store_app(self, obj, data):
        artifact = self.artifacts.get(data.get('artifact'))
        if artifact is None:
            return 400, {'artifact': ['Invalid pk "%s" - object does not exist.' % data.get('artifact')]}
        if artifact['type'] != 'Store App':
            return 400, {'artifact': ['Not a store app artifact']}
        if data.get('location_asset') not in self.api.location_assets:
            return 400, {'location_asset': ['Invalid pk "%s" - object does not exist.' % data.get('location_asset')]}
        if any(a['artifact'] == data['artifact'] and a['version'] == data.get('version') and a is not obj
               for a in self.store_apps.values()):
            return 400, {'version': ['A version of this artifact with the same version number already exists']}
        configuration = (data.get('configuration') or '').strip() or None  # DRF trims
        fields = dict(self._scope(data), artifact=data['artifact'], version=data['version'],
                      location_asset=data['location_asset'], configuration=configuration,
                      **{k: data.get(k, v) for k, v in STORE_APP_DEFAULTS.items()})
        return self._save(self.store_apps, obj, fields, {}, self._uuid)

    def _filevault_config(self, obj, data):
        error = self._unique_name(self.filevault_configs, obj, data, 'FileVault configuration')
        if error:
            return 400, error
        if not data.get('escrow_location_display_name'):
            return 400, {'escrow_location_display_name': ['This field is required.']}
        fields = {k: data[k] for k in ('name', 'escrow_location_display_name', 'at_login_only', 'bypass_attempts',
                                       'show_recovery_key', 'destroy_key_on_standby', 'prk_rotation_interval_days')
                  if k in data}
        bypass = data.get('bypass_attempts', -1)
        if data.get('at_login_only', False):
            if bypass < 0:
                return 400, {'bypass_attempts': ['Must be >= 0 when at_login_only is True']}
        elif bypass > -1:
            return 400, {'bypass_attempts': ['Must be -1 when at_login_only is False']}
        if not 0 <= data.get('prk_rotation_interval_days', 0) <= 365:
            return 400, {'prk_rotation_interval_days': ['Ensure this value is less than or equal to 365.']}
        return self._save(self.filevault_configs, obj, fields, dict(
            at_login_only=False, bypass_attempts=-1, show_recovery_key=False, destroy_key_on_standby=False,
            prk_rotation_interval_days=0), self._int_id)

    def _recovery_password_config(self, obj, data):
        error = self._unique_name(self.recovery_password_configs, obj, data, 'recovery password configuration')
        if error:
            return 400, error
        dynamic = data.get('dynamic_password', True)
        static = data.get('static_password')
        rotation, rotate_firmware = data.get('rotation_interval_days'), data.get('rotate_firmware_password')
        errors = {}
        if dynamic:
            if static:
                errors['static_password'] = ['Cannot be set when dynamic_password is true']
        else:
            if not static:
                errors['static_password'] = ['Required when dynamic_password is false']
            if rotation:
                errors['rotation_interval_days'] = ['Cannot be set with a static password']
            if rotate_firmware:
                errors['rotate_firmware_password'] = ['Cannot be set with a static password']
        if rotate_firmware and not rotation:
            errors['rotate_firmware_password'] = ['Cannot be set without a rotation interval']
        if errors:
            return 400, errors
        fields = {k: data[k] for k in ('name', 'dynamic_password', 'rotation_interval_days', 'rotate_firmware_password')
                  if data.get(k) is not None}
        fields['static_password'] = static or None  # as Zentral's update: what the request says, null otherwise
        return self._save(self.recovery_password_configs, obj, fields, dict(
            dynamic_password=True, static_password=None, rotation_interval_days=0, rotate_firmware_password=False),
            self._int_id)

    def _software_update_enforcement(self, obj, data):
        error = self._unique_name(self.software_update_enforcements, obj, data, 'software update enforcement')
        if error:
            return 400, error
        if not data.get('platforms'):
            return 400, {'platforms': ['This field is required.']}
        for pk in data.get('tags') or []:
            if pk not in self.tags:
                return 400, {'tags': ['Invalid pk "%s" - object does not exist.' % pk]}
        max_os, os_version = data.get('max_os_version'), data.get('os_version')
        for field in ('max_os_version', 'os_version'):
            if data.get(field) and not re.fullmatch(r'\d+(\.\d+){0,2}', data[field]):
                return 400, {field: ['Not a valid OS version']}
        if max_os and os_version:
            return 400, {'non_field_errors': ['os_version and max_os_version cannot be both set']}
        if not max_os and not os_version:
            return 400, {'non_field_errors': ['os_version or max_os_version are required']}
        mode, required, others = (('max_os_version', (), ('os_version', 'build_version', 'local_datetime')) if max_os
                                  else ('os_version', ('local_datetime',), ('max_os_version', 'delay_days', 'local_time')))
        errors = {f: ['This field is required if %s is used' % mode] for f in required if not data.get(f)}
        errors.update({f: ['This field cannot be set if %s is used' % mode] for f in others if data.get(f)})
        if errors:
            return 400, errors
        fields = {k: data.get(k) for k in ('name', 'platforms', 'os_version', 'build_version', 'max_os_version',
                                           'delay_days', 'local_time', 'local_datetime')}
        fields.update(details_url=data.get('details_url') or '', tags=sorted(data.get('tags') or []))
        for field in others:
            fields[field] = '' if field not in ('delay_days', 'local_time', 'local_datetime') else None
        for field in ('os_version', 'build_version', 'max_os_version'):
            fields[field] = fields[field] or ''
        if max_os:  # Zentral's model defaults
            fields['delay_days'] = 14 if fields['delay_days'] is None else fields['delay_days']
            fields['local_time'] = fields['local_time'] or '09:30'
        # DRF writes times with seconds
        if fields['local_time'] and fields['local_time'].count(':') == 1:
            fields['local_time'] += ':00'
        if fields['local_datetime'] and fields['local_datetime'].count(':') == 1:
            fields['local_datetime'] += ':00'
        return self._save(self.software_update_enforcements, obj, fields, {}, self._int_id)

    def _blueprint_artifact(self, obj, data):
        if data.get('blueprint') not in self.blueprints:
            return 400, {'blueprint': ['Invalid pk "%s" - object does not exist.' % data.get('blueprint')]}
        if data.get('artifact') not in self.artifacts:
            return 400, {'artifact': ['Invalid pk "%s" - object does not exist.' % data.get('artifact')]}
        fields = dict(self._scope(data), blueprint=data['blueprint'], artifact=data['artifact'])
        if not any(fields[p] for p in ('ios', 'ipados', 'macos', 'tvos')):
            return 400, {'non_field_errors': ['You need to activate at least one platform']}
        return self._save(self.blueprint_artifacts, obj, fields, {}, self._int_id)

    def _dep_enrollment(self, obj, data):
        error = self._unique_name(self.dep_enrollments, obj, data, 'dep enrollment')
        if error:
            return 400, error
        for field in ('virtual_server', 'push_certificate'):
            if obj is None and data.get(field) is None:
                return 400, {field: ['This field is required.']}
        if data.get('virtual_server') is not None and data['virtual_server'] not in self.api.dep_servers:
            return 400, {'virtual_server': ['Invalid pk "%s" - object does not exist.' % data['virtual_server']]}
        if obj is not None and data.get('virtual_server') not in (None, obj['virtual_server']):
            return 400, {'virtual_server': ['The virtual server of a DEP enrollment cannot be changed.']}
        merged = dict(DEP_DEFAULTS, **dict(obj or {}, **data))
        if merged['is_mdm_removable'] is False and merged['is_supervised'] is False:
            return 400, {'is_mdm_removable': ["Can only be set to False if 'Is supervised' is set to True"]}
        own = ('name', 'virtual_server', 'push_certificate', 'display_name')
        fields = {k: v for k, v in data.items() if k in DEP_DEFAULTS or k in own}
        if obj is None and not fields.get('display_name'):
            fields['display_name'] = fields['name']
        redefine = obj is None or any(k in fields and fields[k] != obj.get(k) for k in DEP_APPLE_FIELDS)
        status, saved = self._save(self.dep_enrollments, obj, fields, DEP_DEFAULTS, self._int_id)
        if redefine:
            saved['profile_uuid'] = self._uuid().upper()
        saved.setdefault('secret', 'secret-%d' % saved['id'])
        saved['enroll_url'] = 'https://mdm.example.com/public/mdm/dep_enrollments/%s/enroll/' % saved['secret']
        saved['enrollment_secret'] = dict(id=saved['id'], secret=saved['secret'], meta_business_unit=None, tags=[],
                                          serial_numbers=None, udids=None, quota=None, request_count=0)
        return status, saved

    def _refuse_delete(self, collection, obj):
        uses = dict(filevault_configs=('filevault_config', 'FileVault configuration'),
                    recovery_password_configs=('recovery_password_config', 'recovery password configuration'))
        kind = collection.rsplit('/', 1)[-1]
        if kind in uses and any(b.get(uses[kind][0]) == obj['id'] for b in self.blueprints.values()):
            return 'This %s cannot be deleted' % uses[kind][1]
        if kind == 'dep_enrollments' and any(d.get('dep_enrollment_id') == obj['id'] for d in self.api.devices.values()):
            return 'This DEP enrollment cannot be deleted'
        if kind == 'software_update_enforcements' and any(
                obj['id'] in (b.get('software_update_enforcements') or []) for b in self.blueprints.values()):
            return 'This software update enforcement cannot be deleted'
        if collection == 'api/mdm/blueprints' and any(
                d.get('blueprint') == obj['id'] for d in self.api.devices.values()):
            return 'This blueprint cannot be deleted'
        if collection == 'api/mdm/artifacts' and (
                any(i['artifact'] == obj['id'] for i in self.blueprint_artifacts.values())
                or any(d['artifact'] == obj['id'] for d in self.declarations.values())
                or any(r['artifact'] == obj['id'] for rows in self.device_artifacts.values() for r in rows)):
            return 'This artifact cannot be deleted'
        return None

    def _tag_machines(self, data):
        found = 0
        added = removed = 0
        for serial in data.get('serial_numbers') or []:
            if any(d.get('serial_number') == serial for d in self.api.devices.values()):
                found += 1
            tags = self.machine_tags.setdefault(serial, set())
            for op in data.get('operations') or []:
                ids = []
                for name in op['names']:
                    tag = next((t for t in self.tags.values() if t['name'] == name), None)
                    if tag is None and op['kind'] != 'REMOVE':
                        tag = self._tag(None, dict(name=name))[1]
                    if tag is not None:
                        ids.append(tag['id'])
                if op['kind'] == 'REMOVE':
                    removed += len(tags & set(ids))
                    tags -= set(ids)
                else:
                    added += len(set(ids) - tags)
                    tags |= set(ids)
        return 200, dict(machines=dict(found=found), tags=dict(added=added, removed=removed))
