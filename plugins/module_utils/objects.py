# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the espalier.mdm collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

"""Objects of the fleet declaration (tags, blueprints, artifacts, blueprint artifacts): find them
by name, and bring one to its declared fields with a diff, writing nothing in check mode."""

from __future__ import annotations

import base64
import hashlib

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError

TAGS_PATH = 'api/inventory/tags/'
BLUEPRINTS_PATH = 'api/mdm/blueprints/'
ARTIFACTS_PATH = 'api/mdm/artifacts/'
PROFILES_PATH = 'api/mdm/profiles/'
BLUEPRINT_ARTIFACTS_PATH = 'api/mdm/blueprint_artifacts/'
# Zentral's platform names; the scope fields of a blueprint artifact or a version are their lower case
PLATFORMS = ('iOS', 'iPadOS', 'macOS', 'tvOS')


def object_path(path, object_id=None):
    return path + ('%s/' % object_id if object_id is not None else '')


def find_by_name(client, path, name):
    """The object of this list endpoint with exactly this name (names are unique), or None."""
    return next((o for o in client.list_all(path, dict(name=name)) if o.get('name') == name), None)


def id_of(client, path, value, option, noun=None, module=None):
    """An object given by id (digits) or by name, as its id; None stays None. option names the task's
    option in the error, noun the kind of object (default: the option's name).

    With a module in check mode, a name that no object has yet stands for itself (with a warning): a
    whole declaration checked before its first run names objects that its earlier tasks would create.
    """
    if value is None or isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    found = find_by_name(client, path, text)
    noun = noun or option.replace('_', ' ')
    if found is None and module is not None and module.check_mode:
        module.warn("%s: no %s named '%s' yet; check mode assumes an earlier task creates it" % (option, noun, text))
        return text
    if found is None:
        raise EspalierModuleError("%s: no %s named '%s'" % (option, noun, text))
    return found['id']


def tag_ids(client, names, what, module=None):
    """Tag names (or ids) as sorted ids (names not created yet last, in check mode); every tag must exist."""
    ids = [id_of(client, TAGS_PATH, name, what, 'tag', module) for name in names or ()]
    return sorted(ids, key=lambda i: (isinstance(i, str), i))


def changed_fields(current, desired):
    """Declared fields (None: not declared) whose value differs from the object's."""
    return sorted(k for k, v in desired.items() if v is not None and _same(v) != _same((current or {}).get(k)))


def _same(value):
    if isinstance(value, list):
        return sorted((_same(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {k: _same(v) for k, v in value.items()}
    return value


def ensure(module, client, path, current, desired, what, writable, label=None):
    """Create or update the object so the declared fields hold: the result dict of the module.

    writable: the fields the API's PUT takes; it is sent whole (current values, then the declared ones).
    """
    label = label or desired.get('name')
    keys = changed_fields(current, desired)
    if current is not None and not keys:
        return dict(changed=False, object=current, msg="%s '%s' is as declared" % (what, label))
    declared = {k: v for k, v in desired.items() if v is not None}
    if current is None:
        body = declared
        after = dict(dict.fromkeys(('id',) + tuple(writable)), **body) if module.check_mode else None
        if not module.check_mode:
            after = client.post(path, body)
        before_view, after_view = dict(state='absent'), dict({k: after.get(k) for k in sorted(declared)}, state='present')
        verb = 'created'
    else:
        body = dict({k: current.get(k) for k in writable}, **declared)
        after = dict(current, **declared) if module.check_mode else client.put(object_path(path, current['id']), body)
        before_view = {k: current.get(k) for k in keys}
        after_view = {k: after.get(k) for k in keys}
        verb = 'updated'
    return dict(changed=True, object=after, diff=dict(before=before_view, after=after_view),
                msg="%s '%s' %s%s" % (what, label, verb, ' (check mode)' if module.check_mode else ''))


def ensure_absent(module, client, path, current, what, label, view_keys):
    if current is None:
        return dict(changed=False, object={}, msg="%s '%s' is absent" % (what, label))
    if not module.check_mode:
        client.delete(object_path(path, current['id']))
    before = dict({k: current.get(k) for k in view_keys}, state='present')
    return dict(changed=True, object={}, diff=dict(before=before, after=dict(state='absent')),
                msg="%s '%s' deleted%s" % (what, label, ' (check mode)' if module.check_mode else ''))


def scope_fields(platforms, min_versions=None, max_versions=None):
    """The FilteredItem fields of the platforms (a list of Zentral's names) and OS version bounds."""
    if platforms is None:
        return {}
    unknown = sorted(set(platforms) - set(PLATFORMS))
    if unknown:
        raise EspalierModuleError('platforms: unknown %s (choose among %s)' % (', '.join(unknown), ', '.join(PLATFORMS)))
    out = {}
    for platform in PLATFORMS:
        field = platform.lower()
        out[field] = platform in platforms
        out[field + '_min_version'] = (min_versions or {}).get(platform, '') or ''
        out[field + '_max_version'] = (max_versions or {}).get(platform, '') or ''
    return out


def versions_of(client, artifact_id):
    """The profile versions of an artifact, newest first, each with source_sha256 instead of its source."""
    out = []
    for version in client.list_all(PROFILES_PATH):
        if version.get('artifact') != artifact_id:
            continue
        version = dict(version)
        version['source_sha256'] = hashlib.sha256(base64.b64decode(version.pop('source', '') or '')).hexdigest()
        out.append(version)
    return sorted(out, key=lambda v: v.get('version') or 0, reverse=True)
