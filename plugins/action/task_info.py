# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""Action plugin of espalier.mdm.task_info: the module, run in the controller process on a local connection."""

from __future__ import annotations

from ansible_collections.espalier.mdm.plugins.modules import task_info
from ansible_collections.espalier.mdm.plugins.plugin_utils.in_process import ApiModuleAction


class ActionModule(ApiModuleAction):
    MODULE = task_info
