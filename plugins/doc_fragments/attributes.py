# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations


class ModuleDocFragment:
    """Module attributes shared by the espalier.mdm modules."""

    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
    support: full
'''

    ACTION_GROUP = r'''
options: {}
attributes:
  action_group:
    description: Use C(group/espalier.mdm.all) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - espalier.mdm.all
'''

    CHECK_MODE_READ_ONLY = r'''
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
    support: full
    details:
      - This module only reads from the API, so it runs the same in check mode and never reports C(changed).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
    support: none
    details:
      - This module changes nothing, so it has no diff.
'''

    FACTS = r'''
options: {}
attributes:
  facts:
    description: Action returns an C(ansible_facts) dictionary that will update existing host facts.
    support: full
'''

    SECRETS = r'''
options: {}
notes:
  - The returned secret is in the task result. Set C(no_log) on the task so that Ansible does not print
    it (with C(-v), in a failure, in callbacks) or write it to its logs; the registered variable still
    holds it. The module never puts the secret in C(msg), a warning or a diff.
  - Reading the secret needs a token with the permission named in the description, which the
    C(operator) and C(viewer) roles do not have.
'''
