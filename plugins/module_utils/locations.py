# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the espalier.mdm collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

"""Apps and Books locations and their assets in the API: paths, listings, the diffed view."""

from __future__ import annotations

LOCATIONS_PATH = 'api/mdm/locations/'
LOCATION_ASSETS_PATH = 'api/mdm/location_assets/'
# What the diff shows of a location: never the token (the API does not return it).
DIFF_KEYS = ('name', 'organization_name', 'library_uid', 'country_code', 'platform',
             'server_token_expiration_date', 'mdm_info_id')


def location_path(location_id=None):
    return LOCATIONS_PATH + ('%d/' % int(location_id) if location_id is not None else '')


def list_locations(client, name=None, organization_name=None):
    return client.list_all(LOCATIONS_PATH, dict(name=name, organization_name=organization_name))


def get_location(client, location_id):
    return client.get_or_none(location_path(location_id))


def list_location_assets(client, adam_id=None, pricing_param=None, location_id=None):
    return client.list_all(LOCATION_ASSETS_PATH, dict(adam_id=adam_id, pricing_param=pricing_param,
                                                      location_id=location_id))


def location_view(location):
    """The compared and diffed fields of a location ({}: there is none)."""
    if not location:
        return {}
    return {key: location.get(key) for key in DIFF_KEYS}


def describe(location):
    return "location '%s' (#%s, library %s)" % (location.get('name'), location.get('id'), location.get('library_uid'))
