"""FileVault personal recovery key escrow.

macOS wraps the PRK in CMS EnvelopedData to the certificate of the FDERecoveryKeyEscrow
payload; we use the built-in CA's certificate for that payload, so its key opens it. The
PRK is stored encrypted at rest and revealed only through the permission-gated endpoint.
"""
from __future__ import annotations

import logging

from espalier.pki import cms

log = logging.getLogger(__name__)


def escrow_prk(ctx, device, prk_cms: bytes) -> None:
    ca = ctx.ca
    try:
        prk = cms.decrypt_enveloped(prk_cms, ca.certificate, ca.key).decode("utf-8").strip()
    except (cms.CMSError, UnicodeDecodeError) as exc:
        log.warning("device %s: cannot open the escrowed FileVault PRK: %s", device.udid, exc)
        return
    if prk:
        ctx.secrets.seal(device, "filevault_prk", prk)
