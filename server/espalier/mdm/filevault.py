"""FileVault on blueprint Macs: the profile, the personal recovery key's escrow, its rotation.

A blueprint with a FileVault configuration gets each of its Macs a profile made here
(``build_profile``): ``com.apple.MCX.FileVault2`` and ``com.apple.MCX`` with the
configuration's settings, ``com.apple.security.FDERecoveryKeyEscrow`` pointing at a
``com.apple.security.pkcs1`` payload that carries the device's OWN escrow certificate. Its
private key is made at the first install, sealed in the device row (bound to it), so a
recovery key escrowed by one Mac opens with that Mac's key only. macOS seals the PRK to that
certificate when FileVault turns on and reports it in SecurityInfo
(``FDE_PersonalRecoveryKeyCMS``); ``RotateFileVaultKey`` answers with the new one sealed to the
same certificate (``ReplyEncryptionCertificate``).

``next_command`` is a scheduling step. In order, for a Mac (device channel, not a user
enrollment):

1. the profile: installed when the device's ``filevault_profile_token`` (what it acknowledged)
   differs from what its blueprint's configuration makes (``profile_token``: a config change
   that alters the profile reinstalls it once), removed once when the blueprint has no
   configuration any more; never while the last such command is pending, nor for
   ``BACKOFF`` after one failed;
2. the PRK: a SecurityInfo is queued when the profile is acknowledged; until a PRK is
   escrowed, one more at most every ``PRK_POLL`` (FileVault is enabled at the user's next
   login, the PRK comes with the first SecurityInfo after that), besides the inventory;
3. rotation: ``RotateFileVaultKey`` when ``prk_rotation_interval_days`` passed since the PRK
   was escrowed (as Zentral: not after a reveal), never while one is pending nor for
   ``BACKOFF`` after one that did not rotate it.

The steps read the device's session columns first (``lookup.SESSION_COLUMNS``) and the
blueprint with its configuration (one joined SELECT shared by the steps); the ORM device and
the command history are read only when there is something to do.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import plistlib
import uuid
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from espalier.models import Blueprint, DeviceCommand, EnrolledDevice, FileVaultConfig
from espalier.pki import cms

from . import lookup, queue

log = logging.getLogger(__name__)

PROFILE_IDENTIFIER = "com.espalier.mdm.filevault"
INSTALL, REMOVE, ROTATE = "SetupFileVault", "RemoveFileVault", "RotateFileVaultKey"
BACKOFF = timedelta(hours=4)  # as Zentral: a failed command is not sent again before
PRK_POLL = timedelta(hours=1)
MAX_PRK_CMS = 64 * 1024  # a sealed PRK is a few hundred bytes
MAX_PRK = 256
_NAMESPACE = uuid.UUID("6f1f2b8e-6a2c-4d55-9a51-3f0e2d7a9c11")


# -- the device's escrow key --------------------------------------------------------------

def escrow_identity(ctx, device: EnrolledDevice) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """The device's escrow certificate and key, made (and sealed in its row) the first time."""
    if device.filevault_escrow_key and device.filevault_escrow_certificate:
        key = serialization.load_pem_private_key(ctx.secrets.open(device, "filevault_escrow_key"), None)
        return x509.load_pem_x509_certificate(device.filevault_escrow_certificate.encode()), key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Espalier FileVault PRK escrow"),
                      x509.NameAttribute(NameOID.SERIAL_NUMBER, (device.serial_number or device.udid)[:64])])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(ctx.now - timedelta(days=1)).not_valid_after(ctx.now + timedelta(days=20 * 366))
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=True,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    ctx.secrets.seal(device, "filevault_escrow_key", key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    device.filevault_escrow_certificate = cert.public_bytes(serialization.Encoding.PEM).decode()
    return cert, key


def open_prk(ctx, device: EnrolledDevice, sealed: bytes) -> str | None:
    """The PRK a Mac sealed to its escrow certificate, or None (logged) when it does not open.

    ``pki.cms`` opens AES-CBC and 3DES envelopes alike (cryptography's pkcs7 decrypt refuses
    3DES, and Apple does not document its cipher)."""
    if not device.filevault_escrow_key or not isinstance(sealed, bytes) or not 0 < len(sealed) <= MAX_PRK_CMS:
        log.warning("device %s: no escrow key for the FileVault PRK, or an unusable envelope", device.udid)
        return None
    cert, key = escrow_identity(ctx, device)
    try:
        prk = cms.decrypt_enveloped(sealed, cert, key).decode("utf-8").strip()
    except (cms.CMSError, UnicodeDecodeError) as exc:
        log.warning("device %s: cannot open the escrowed FileVault PRK: %s", device.udid, exc)
        return None
    if not prk or len(prk) > MAX_PRK or not prk.isprintable():
        log.warning("device %s: the escrowed FileVault PRK is not a recovery key", device.udid)
        return None
    return prk


def escrow_prk(ctx, device: EnrolledDevice, sealed: bytes) -> bool:
    """Store the PRK (encrypted, bound to the row); True when it opened. ``filevault_prk_escrowed_at``
    moves only when the key changed: rotation counts from the escrow of the current key."""
    prk = open_prk(ctx, device, sealed)
    if prk is None:
        return False
    if not device.filevault_prk or ctx.secrets.open_str(device, "filevault_prk") != prk:
        ctx.secrets.seal(device, "filevault_prk", prk)
        device.filevault_prk_escrowed_at = ctx.now
        log.info("device %s: FileVault PRK escrowed", device.udid)
    return True


# -- the profile --------------------------------------------------------------------------

def _profile_settings(config: FileVaultConfig) -> dict:
    return {"location": config.escrow_location_display_name, "at_login_only": config.at_login_only,
            "bypass_attempts": config.bypass_attempts, "show_recovery_key": config.show_recovery_key,
            "destroy_key_on_standby": config.destroy_key_on_standby}


def profile_token(config: FileVaultConfig) -> str:
    """What a device that has this configuration's profile records: the configuration and a
    hash of what of it goes into the profile (a rename or a rotation interval changes nothing)."""
    digest = hashlib.sha256(json.dumps(_profile_settings(config), sort_keys=True).encode()).hexdigest()
    return f"{config.id}:{digest[:32]}"


def build_profile(ctx, device: EnrolledDevice, config: FileVaultConfig) -> bytes:
    """The .mobileconfig (a plist) for ``device``; its payload UUIDs follow the token and the certificate."""
    cert, _ = escrow_identity(ctx, device)
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    seed = profile_token(config) + hashlib.sha256(cert_der).hexdigest()

    def payload_uuid(role: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{seed}:{role}")).upper()

    def payload(kind: str, role: str, **keys) -> dict:
        return {"PayloadType": kind, "PayloadIdentifier": f"{PROFILE_IDENTIFIER}.{role}",
                "PayloadUUID": payload_uuid(role), "PayloadVersion": 1, **keys}

    return plistlib.dumps({
        "PayloadType": "Configuration", "PayloadVersion": 1, "PayloadIdentifier": PROFILE_IDENTIFIER,
        "PayloadUUID": payload_uuid("profile"), "PayloadDisplayName": "Espalier - FileVault",
        "PayloadScope": "System", "PayloadRemovalDisallowed": True,
        "PayloadContent": [
            payload("com.apple.MCX.FileVault2", "configuration", Enable="On", Defer=True, UseRecoveryKey=True,
                    ShowRecoveryKey=config.show_recovery_key, DeferDontAskAtUserLogout=config.at_login_only,
                    DeferForceAtUserLoginMaxBypassAttempts=config.bypass_attempts),
            payload("com.apple.MCX", "options", DestroyFVKeyOnStandby=config.destroy_key_on_standby,
                    dontAllowFDEDisable=True, dontAllowFDEEnable=False),
            payload("com.apple.security.pkcs1", "certificate", PayloadContent=cert_der,
                    PayloadDisplayName="FileVault PRK escrow certificate"),
            payload("com.apple.security.FDERecoveryKeyEscrow", "escrow", Location=config.escrow_location_display_name,
                    EncryptCertPayloadUUID=payload_uuid("certificate")),
        ]})


# -- the scheduling step ------------------------------------------------------------------

def orm_device(ctx, device) -> EnrolledDevice:
    """The ORM device of a step's ``device`` (a session row on an Idle connect)."""
    return device if isinstance(device, EnrolledDevice) else lookup.loaded(ctx, device)


def blueprint_of(ctx, device) -> Blueprint | None:
    return ctx.blueprint(device.blueprint_id)


def last_command(ctx, device_id: int, names: tuple[str, ...]) -> DeviceCommand | None:
    return ctx.s.scalar(select(DeviceCommand).where(
        DeviceCommand.enrolled_device_id == device_id, DeviceCommand.enrolled_user_id.is_(None),
        DeviceCommand.name.in_(names)).order_by(DeviceCommand.created_at.desc(), DeviceCommand.id.desc()).limit(1))


def waiting(ctx, device_id: int, names: tuple[str, ...], *, after_success: bool) -> bool:
    """The last of these commands is pending, or failed (or, with ``after_success``, ended at
    all) less than ``BACKOFF`` ago: nothing of the kind is queued now."""
    last = last_command(ctx, device_id, names)
    if last is None:
        return False
    if last.is_pending:
        return True
    recent = last.result_time is not None and ctx.now - last.result_time < BACKOFF
    return recent and (after_success or last.status != "Acknowledged")


def applies_to(device) -> bool:
    return device.platform == "macOS"


def next_command(ctx, device) -> DeviceCommand | None:
    if not applies_to(device) or (device.blueprint_id is None and device.filevault_profile_token is None):
        return None
    blueprint = blueprint_of(ctx, device)
    config = blueprint.filevault_config if blueprint is not None else None
    wanted = profile_token(config) if config is not None else None
    if wanted != device.filevault_profile_token:
        return _profile_command(ctx, orm_device(ctx, device), config, wanted)
    if config is None:
        return None
    if device.filevault_prk_escrowed_at is None:
        return _collect_prk(ctx, device)
    if rotation_due(config, device, ctx.now):
        return _rotate(ctx, orm_device(ctx, device))
    return None


def rotation_due(config: FileVaultConfig, device, now) -> bool:
    """With rotation on (``prk_rotation_interval_days`` > 0): the interval passed since the PRK
    was escrowed, or the PRK was revealed since (a key an operator has seen is rotated)."""
    interval = config.prk_rotation_interval_days
    if interval <= 0 or device.filevault_prk_escrowed_at is None:
        return False
    revealed = device.filevault_prk_revealed_at
    return (now - device.filevault_prk_escrowed_at > timedelta(days=interval)
            or (revealed is not None and revealed >= device.filevault_prk_escrowed_at))


def revealed(s, device: EnrolledDevice, now) -> bool:
    """Note a reveal of ``device``'s PRK; whether its blueprint's FileVault configuration rotates
    it for that (then the device is to be woken)."""
    device.filevault_prk_revealed_at = now
    blueprint = s.get(Blueprint, device.blueprint_id) if device.blueprint_id is not None else None
    config = blueprint.filevault_config if blueprint is not None else None
    return config is not None and config.prk_rotation_interval_days > 0


def _profile_command(ctx, device: EnrolledDevice, config: FileVaultConfig | None,
                     wanted: str | None) -> DeviceCommand | None:
    if device.user_enrollment or waiting(ctx, device.id, (INSTALL, REMOVE), after_success=False):
        return None
    if wanted is None:
        log.info("device %s: remove the FileVault profile (its blueprint has no FileVault configuration)",
                 device.udid)
        return queue.add_command(ctx.s, ctx.secrets, device.id, REMOVE, {"Identifier": PROFILE_IDENTIFIER})
    profile = build_profile(ctx, device, config)
    log.info("device %s: install the FileVault profile of configuration %s", device.udid, config.id)
    return queue.add_command(ctx.s, ctx.secrets, device.id, INSTALL,
                             {"Payload": base64.b64encode(profile).decode(), "Token": wanted})


def _collect_prk(ctx, device) -> DeviceCommand | None:
    last = device.last_inventory_at
    if last is not None and ctx.now - last < PRK_POLL:
        return None
    device = orm_device(ctx, device)
    if device.filevault_prk:  # escrowed before its time was kept: count from now
        device.filevault_prk_escrowed_at = ctx.now
        return None
    if waiting(ctx, device.id, ("SecurityInfo",), after_success=False):
        return None
    return queue.add_command(ctx.s, ctx.secrets, device.id, "SecurityInfo", {})


def _rotate(ctx, device: EnrolledDevice) -> DeviceCommand | None:
    if device.user_enrollment or not device.filevault_prk:
        return None
    last = last_command(ctx, device.id, (ROTATE,))
    revealed_since = (last is not None and last.status == "Acknowledged" and last.result_time is not None
                      and device.filevault_prk_revealed_at is not None
                      and device.filevault_prk_revealed_at > last.result_time)
    if not revealed_since and waiting(ctx, device.id, (ROTATE,), after_success=True):
        return None  # the back-off holds, unless an operator saw the key since the last rotation
    cert, _ = escrow_identity(ctx, device)
    log.info("device %s: rotate the FileVault PRK", device.udid)
    return queue.add_command(ctx.s, ctx.secrets, device.id, ROTATE, {
        "KeyType": "personal", "FileVaultUnlock": {"Password": ctx.secrets.open_str(device, "filevault_prk")},
        "ReplyEncryptionCertificate": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()})
