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
      - Wait until the device answers the command (C(Acknowledged), C(Error) or C(CommandFormatError)),
        or it is canceled (C(Canceled)).
      - C(NotNow) answers are waited through, the device will be asked again.
      - The task fails if the command ends in C(Error), C(CommandFormatError) or C(Canceled).
    type: bool
    default: false
  wait_timeout:
    description:
      - How many seconds to wait when O(wait=true); the task fails when they run out.
    type: int
    default: 300
'''

    # device_lock and device_erase: one-shot, and what to do with other pending commands.
    ONCE = r'''
options:
  once:
    description:
      - One-shot. Do not queue the command again when the device has already acknowledged the same request
        (same arguments, by the server's C(request_hash)), at or after O(since) when it is given, ever otherwise.
      - With V(false), the command is queued again once the previous one was answered.
    type: bool
    default: true
  since:
    description:
      - With O(once=true), only acknowledgements at or after this time count, as an ISO 8601 date or date and
        time (V(2024-05-01), V(2024-05-01T08:00:00Z); no offset means UTC). Set it to when the decision was made,
        for example the date of a ticket, to act again on a device that was handled before.
    type: str
  force:
    description:
      - Queue the command whatever is pending or was acknowledged, and leave pending commands as they are.
    type: bool
    default: false
'''
