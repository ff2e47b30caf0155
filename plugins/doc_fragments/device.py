# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations


class ModuleDocFragment:
    """Options shared by the modules that act on one device."""

    # Which device: exactly one selector.
    DOCUMENTATION = r'''
options:
  id:
    description:
      - Espalier id of the device.
      - Exactly one of O(id), O(udid) and O(serial_number) is required.
    type: int
  udid:
    description:
      - UDID of the device.
    type: str
  serial_number:
    description:
      - Serial number of the device. Fails if several enrolled devices share it; use O(udid) or O(id) then.
    type: str
'''

    # Modules that queue a command and may wait for the device's answer.
    COMMAND = r'''
options:
  wait:
    description:
      - Wait until the device answers the command (C(Acknowledged), C(Error) or C(CommandFormatError)).
      - C(NotNow) answers are waited through, the device will be asked again.
      - The task fails if the command ends in C(Error) or C(CommandFormatError).
    type: bool
    default: false
  wait_timeout:
    description:
      - How many seconds to wait when O(wait=true); the task fails when they run out.
    type: int
    default: 300
'''
