# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations


class ModuleDocFragment:
    """Options of the modules that may wait for a background task of the server (module_utils WAIT_ARGSPEC)."""

    WAIT = r'''
options:
  wait:
    description:
      - Wait until the server's background task is ready (C(SUCCESS) or C(FAILURE)).
    type: bool
    default: false
  wait_timeout:
    description:
      - How many seconds to wait when O(wait=true), a positive number; the task fails when they run out.
    type: int
    default: 300
'''
