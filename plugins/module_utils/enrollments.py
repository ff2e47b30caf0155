# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the espalier.mdm collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

"""OTA enrollments of the API: find by name or id, the managed fields and the view the modules compare."""

from __future__ import annotations

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError
from ansible_collections.espalier.mdm.plugins.module_utils.push_certificates import list_push_certificates

OTA_ENROLLMENTS_PATH = 'api/mdm/ota_enrollments/'
# The fields a task declares (besides name), as the API names them. scep_challenge is
# write-only: the API never returns it, so it cannot be compared.
MANAGED_FIELDS = ('display_name', 'push_certificate', 'blueprint', 'identity_source', 'attestation', 'scep_url',
                  'reusable', 'quota')
# Options whose 0 or '' means "none" (the API's null), since a task cannot tell null from unset.
CLEARED_BY = dict(blueprint=0, quota=0, scep_url='')


def ota_enrollment_path(enrollment_id=None):
    return OTA_ENROLLMENTS_PATH + ('%d/' % int(enrollment_id) if enrollment_id is not None else '')


def list_ota_enrollments(client, name=None):
    return client.list_all(OTA_ENROLLMENTS_PATH, dict(name=name))


def find_ota_enrollment(client, name):
    """The OTA enrollment with this exact name (names are unique on the server), or None."""
    found = [e for e in list_ota_enrollments(client, name) if e.get('name') == name]
    return found[0] if found else None


def get_ota_enrollment(client, enrollment_id):
    return client.get_or_none(ota_enrollment_path(enrollment_id))


def push_certificate_id(client, value):
    """A push certificate given by id (an int, or digits) or by name, as its id."""
    if value is None or isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    matches = [pc for pc in list_push_certificates(client, name=text) if pc.get('name') == text]
    if len(matches) != 1:
        raise EspalierModuleError("push_certificate: no push certificate named '%s'" % text)
    return matches[0]['id']


def desired_fields(params):
    """{field: value} of the options the task sets, with 0/'' turned into the API's null."""
    desired = {}
    for field in MANAGED_FIELDS:
        value = params.get(field)
        if value is None:
            continue
        if field in CLEARED_BY and (value == CLEARED_BY[field] or field == 'blueprint' and str(value).strip() in ('', '0')):
            value = None
        elif isinstance(value, str):
            value = value.strip()
        desired[field] = value
    return desired


def enrollment_view(enrollment, keys):
    """The compared and diffed fields of an enrollment ({} when there is none)."""
    if not enrollment:
        return {}
    return {key: enrollment.get(key) for key in keys}


def differs(current, desired):
    """Keys of desired whose value differs from current's, null included (unlike state.changed_keys)."""
    return sorted(key for key, want in desired.items() if want != (current or {}).get(key))
