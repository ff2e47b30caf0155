# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""Paths of Apple's software update catalogue as Espalier serves it."""

from __future__ import annotations

SOFTWARE_UPDATES_PATH = 'api/mdm/software_updates/'
SYNC_PATH = SOFTWARE_UPDATES_PATH + 'sync/'
COUNTS = ('created', 'present', 'deleted')
