# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""The fleet declaration part of the fake operator API: tags, machine tags, blueprints, artifacts,
profile versions, blueprint artifacts and device artifact rows, with the server's shapes,
defaults and the refusals the modules meet (duplicate names, unknown references)."""

from __future__ import annotations

import re
import uuid as uuidlib

SCOPE_DEFAULTS = dict(
    {'%s%s' % (p, s): (False if not s else '') for p in ('ios', 'ipados', 'macos', 'tvos')
     for s in ('', '_min_version', '_max_version')},
    shard_modulo=100, default_shard=100, excluded_tags=[], tag_shards=[])
STAMPS = dict(created_at='2024-06-01T00:00:00', updated_at='2024-06-01T00:00:00')


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
        self.collections = {
            'api/inventory/tags': (self.tags, self._tag),
            'api/mdm/blueprints': (self.blueprints, self._blueprint),
            'api/mdm/artifacts': (self.artifacts, self._artifact),
            'api/mdm/profiles': (self.profiles, self._profile),
            'api/mdm/blueprint_artifacts': (self.blueprint_artifacts, self._blueprint_artifact),
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
        m = re.fullmatch(r'/(api/(?:inventory/tags|mdm/blueprints|mdm/artifacts|mdm/profiles|mdm/blueprint_artifacts))/'
                         r'(?:([^/]+)/)?', path)
        if not m:
            return None
        objects, make = self.collections[m.group(1)]
        key = m.group(2)
        if key is None:
            if method == 'GET':
                found = [o for o in objects.values() if not query.get('name') or o.get('name') == query['name']]
                return 'list', found
            if method == 'POST':
                return make(None, data)
            return 405, {'detail': 'Method "%s" not allowed.' % method}
        key = int(key) if key.isdigit() else key
        obj = objects.get(key)
        if obj is None:
            return 404, {'detail': 'Not found.'}
        if method == 'GET':
            return 200, obj
        if method == 'PUT':
            return make(obj, data)
        if method == 'DELETE':
            refusal = self._refuse_delete(m.group(1), obj)
            if refusal:
                return 400, [refusal]
            del objects[key]
            return 204, None
        return 405, {'detail': 'Method "%s" not allowed.' % method}

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
                                       'collect_profiles') if data.get(k) is not None}
        return self._save(self.blueprints, obj, fields, dict(inventory_interval=86400, collect_apps=0,
                                                             collect_certificates=0, collect_profiles=0), self._int_id)

    def _artifact(self, obj, data):
        error = self._unique_name(self.artifacts, obj, data, 'artifact')
        if error:
            return 400, error
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

    def _blueprint_artifact(self, obj, data):
        if data.get('blueprint') not in self.blueprints:
            return 400, {'blueprint': ['Invalid pk "%s" - object does not exist.' % data.get('blueprint')]}
        if data.get('artifact') not in self.artifacts:
            return 400, {'artifact': ['Invalid pk "%s" - object does not exist.' % data.get('artifact')]}
        fields = dict(self._scope(data), blueprint=data['blueprint'], artifact=data['artifact'])
        if not any(fields[p] for p in ('ios', 'ipados', 'macos', 'tvos')):
            return 400, {'non_field_errors': ['You need to activate at least one platform']}
        return self._save(self.blueprint_artifacts, obj, fields, {}, self._int_id)

    def _refuse_delete(self, collection, obj):
        if collection == 'api/mdm/blueprints' and any(
                d.get('blueprint') == obj['id'] for d in self.api.devices.values()):
            return 'This blueprint cannot be deleted'
        if collection == 'api/mdm/artifacts' and (
                any(i['artifact'] == obj['id'] for i in self.blueprint_artifacts.values())
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
