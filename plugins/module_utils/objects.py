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
import json

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError

TAGS_PATH = 'api/inventory/tags/'
BLUEPRINTS_PATH = 'api/mdm/blueprints/'
ARTIFACTS_PATH = 'api/mdm/artifacts/'
PROFILES_PATH = 'api/mdm/profiles/'
BLUEPRINT_ARTIFACTS_PATH = 'api/mdm/blueprint_artifacts/'
DECLARATIONS_PATH = 'api/mdm/declarations/'
FILEVAULT_CONFIGS_PATH = 'api/mdm/filevault_configs/'
RECOVERY_PASSWORD_CONFIGS_PATH = 'api/mdm/recovery_password_configs/'
SOFTWARE_UPDATE_ENFORCEMENTS_PATH = 'api/mdm/software_update_enforcements/'
# Zentral's platform names; the scope fields of a blueprint artifact or a version are their lower case
PLATFORMS = ('iOS', 'iPadOS', 'macOS', 'tvOS')
# the artifact type of each kind of declaration (its Type is com.apple.<kind>.<name>)
DECLARATION_ARTIFACT_TYPES = dict(activation='Activation', asset='Asset', configuration='Configuration',
                                  management='Management')


class _Cleared:
    """A declared null (a relation taken off), as opposed to None: not declared."""

    def __repr__(self):
        return 'CLEARED'


CLEARED = _Cleared()


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


def _declared(value):
    return None if value is CLEARED else value


def _same(value):
    if value is CLEARED:
        return None
    if isinstance(value, list):
        return sorted((_same(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {k: _same(v) for k, v in value.items()}
    return value


def ensure(module, client, path, current, desired, what, writable, label=None, implied=None):
    """Create or update the object so the declared fields hold: the result dict of the module.

    writable: the fields the API's PUT takes; it is sent whole (the current values the object has, then
    implied, then the declared ones). implied: values the declared ones call for but that are not
    compared (the fields of another mode that the server wants cleared), sent on creation and update.
    """
    label = label or desired.get('name')
    keys = changed_fields(current, desired)
    if current is not None and not keys:
        return dict(changed=False, object=current, msg="%s '%s' is as declared" % (what, label))
    declared = {k: _declared(v) for k, v in desired.items() if v is not None}
    implied = {k: v for k, v in (implied or {}).items() if k not in declared}
    if current is None:
        body = dict(implied, **declared)
        after = dict(dict.fromkeys(('id',) + tuple(writable)), **body) if module.check_mode else None
        if not module.check_mode:
            after = client.post(path, body)
        before_view, after_view = dict(state='absent'), dict({k: after.get(k) for k in sorted(declared)}, state='present')
        verb = 'created'
    else:
        body = dict({k: current[k] for k in writable if k in current}, **dict(implied, **declared))
        if module.check_mode:
            after = dict(current, **dict(implied, **declared))
        else:
            after = client.put(object_path(path, current['id']), body)
        before_view = {k: current.get(k) for k in keys}
        after_view = {k: after.get(k) for k in keys}
        verb = 'updated'
    return dict(changed=True, object=after, diff=dict(before=before_view, after=after_view),
                msg="%s '%s' %s%s" % (what, label, verb, ' (check mode)' if module.check_mode else ''))


def without_secret(obj, field):
    """The object as a result shows it: a secret field (a static password) replaced by <field>_set."""
    if not obj:
        return obj
    out = {k: v for k, v in obj.items() if k != field}
    out[field + '_set'] = bool(obj.get(field))
    return out


def find_one(client, path, object_id=None, name=None):
    """The objects of an _info module: the one with this id or name (none when there is none), or all."""
    if object_id is not None:
        found = [client.get_or_none(object_path(path, object_id))]
    elif name is not None:
        found = [find_by_name(client, path, name.strip())]
    else:
        found = client.list_all(path)
    return [o for o in found if o]


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


def artifact_outcome(module, result, version_changed, version_diff, what, name, out):
    """The answer of an artifact module: ``result`` is ``ensure``'s for the artifact, the
    version's change and diff are merged into it (one diff, the version under ``version``)."""
    out['changed'] = result['changed'] or version_changed
    if out['changed']:
        before = dict(result.get('diff', {}).get('before', {}))
        after = dict(result.get('diff', {}).get('after', {}))
        if version_diff:
            before['version'], after['version'] = version_diff['before'], version_diff['after']
        out['diff'] = dict(before=before, after=after)
    out['msg'] = "%s '%s' %s%s" % (what, name, 'changed' if out['changed'] else 'is as declared',
                                   ' (check mode)' if module.check_mode and out['changed'] else '')
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


def canonical_declaration(declaration):
    """A declaration as compared and sent: a dict without ServerToken (the server makes its own)."""
    if not isinstance(declaration, dict):
        raise EspalierModuleError('a declaration is a JSON object, not %s' % type(declaration).__name__)
    return {k: v for k, v in declaration.items() if k != 'ServerToken'}


def declaration_sha256(declaration):
    """SHA-256 of the canonical JSON of a declaration: key order and spacing do not count."""
    try:
        text = json.dumps(canonical_declaration(declaration), sort_keys=True, separators=(',', ':'), ensure_ascii=False)
    except (TypeError, ValueError) as ex:  # a YAML date, a set...: what JSON cannot carry
        raise EspalierModuleError('the declaration is not JSON data: %s' % ex)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def declaration_versions_of(client, artifact_id):
    """The declaration versions of an artifact, newest first, each with source_sha256 instead of its source."""
    out = []
    for version in client.list_all(DECLARATIONS_PATH):
        if version.get('artifact') != artifact_id:
            continue
        version = dict(version)
        version['source_sha256'] = declaration_sha256(version.pop('source', None) or {})
        out.append(version)
    return sorted(out, key=lambda v: v.get('version') or 0, reverse=True)
