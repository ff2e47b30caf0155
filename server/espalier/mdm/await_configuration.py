"""Setup Assistant's Await Configuration (ADE): the last scheduling step.

A DEP enrollment with ``await_device_configured`` holds the device in Setup Assistant
(``AwaitingConfiguration`` in its TokenUpdate) until the server sends ``DeviceConfigured``.
The blueprint's artifacts and the other steps go first: this step runs only when none of
them queued anything. On macOS, when the enrollment names an admin account, an
``AccountConfiguration`` creating it goes before ``DeviceConfigured``. Each is queued once
per enrollment (``account_configuration_queued_at``, ``device_configured_queued_at``; a new
enrollment clears them).
"""
from __future__ import annotations

import base64
import hashlib
import plistlib
import secrets as pysecrets
import string
import uuid

from espalier.models import DEPEnrollment, DeviceCommand

from . import queue
from .filevault import orm_device

PBKDF2_ITERATIONS = 40_000  # what macOS itself writes in ShadowHashData
_ALPHABETS = {1: string.ascii_lowercase + string.digits, 2: string.ascii_letters + string.digits,
              3: string.ascii_letters + string.digits + "-_.,:;!?@#%+="}
_LENGTHS = {1: 12, 2: 16, 3: 20}


def next_command(ctx, device) -> DeviceCommand | None:
    if not device.awaiting_configuration:
        return None
    device = orm_device(ctx, device)
    if device.device_configured_queued_at is not None:
        return None
    enrollment = ctx.s.get(DEPEnrollment, device.dep_enrollment_id) if device.dep_enrollment_id else None
    if (enrollment is not None and enrollment.requires_account_configuration and device.platform == "macOS"
            and device.account_configuration_queued_at is None):
        device.account_configuration_queued_at = ctx.now
        return account_configuration(ctx, device, enrollment)
    device.device_configured_queued_at = ctx.now
    return queue.add_command(ctx.s, ctx.secrets, device.id, "DeviceConfigured", {})


def generate_password(complexity: int) -> str:
    level = complexity if complexity in _ALPHABETS else 3
    return "".join(pysecrets.choice(_ALPHABETS[level]) for _ in range(_LENGTHS[level]))


def password_hash(password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> bytes:
    """The ``passwordHash`` of AutoSetupAdminAccounts: a plist with the PBKDF2-SHA512 entropy."""
    salt = salt or pysecrets.token_bytes(32)
    entropy = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, dklen=128)
    return plistlib.dumps({"SALTED-SHA512-PBKDF2": {"entropy": entropy, "salt": salt, "iterations": iterations}},
                          fmt=plistlib.FMT_XML)


def account_configuration(ctx, device, enrollment: DEPEnrollment) -> DeviceCommand:
    password = generate_password(enrollment.admin_password_complexity)
    ctx.secrets.seal(device, "admin_password", password)
    device.admin_short_name, device.admin_password_updated_at = enrollment.admin_short_name, ctx.now
    account = {"GUID": str(uuid.uuid4()).upper(), "shortName": enrollment.admin_short_name,
               "fullName": enrollment.admin_full_name or enrollment.admin_short_name,
               "passwordHash": base64.b64encode(password_hash(password)).decode(), "hidden": enrollment.hidden_admin}
    return queue.add_command(ctx.s, ctx.secrets, device.id, "AccountConfiguration",
                             {"AutoSetupAdminAccounts": [account], "SkipPrimarySetupAccountCreation": False,
                              "SetPrimarySetupAccountAsRegularUser": False})
