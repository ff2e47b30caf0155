# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the espalier.mdm collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

"""ADE (DEP) virtual servers and devices of the API: find a server by id or name, list devices."""

from __future__ import annotations

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierModuleError

VIRTUAL_SERVERS_PATH = 'api/mdm/dep/virtual_servers/'
DEVICES_PATH = 'api/mdm/dep/devices/'
TOKENS_PATH = 'api/mdm/dep/tokens/'
DEP_ENROLLMENTS_PATH = 'api/mdm/dep_enrollments/'
DEVICE_FILTERS = ('serial_number', 'virtual_server', 'profile_status', 'profile_uuid', 'device_family', 'enrollment')


def virtual_server_path(server_id=None, action=None):
    path = VIRTUAL_SERVERS_PATH + ('%d/' % int(server_id) if server_id is not None else '')
    return path + ('%s/' % action if action else '')


def list_virtual_servers(client, name=None):
    return client.list_all(VIRTUAL_SERVERS_PATH, dict(name=name) if name else None)


def resolve_virtual_server(client, server_id=None, name=None):
    """The virtual server with this id, or the one with this name; fails readably otherwise."""
    if server_id is not None:
        found = client.get_or_none(virtual_server_path(server_id))
        if found is None:
            raise EspalierModuleError('no DEP virtual server with id %d' % server_id)
        return found
    matches = [vs for vs in list_virtual_servers(client, name) if vs.get('name') == name]
    if len(matches) != 1:
        raise EspalierModuleError('%s DEP virtual server named %r' % ('no' if not matches else 'more than one', name))
    return matches[0]


def list_devices(client, filters):
    return client.list_all(DEVICES_PATH, {k: v for k, v in filters.items() if v is not None})
