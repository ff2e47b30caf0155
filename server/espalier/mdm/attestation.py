"""Device attestation for OTA enrollment: Apple's profile service flow.

Facts (Apple, "Over-the-Air Profile Delivery and Configuration"): phase 1 hands the device a
profile whose top-level ``PayloadType`` is ``Profile Service``, with a ``PayloadContent``
dictionary naming a ``URL``, the ``DeviceAttributes`` wanted and a ``Challenge``. The device
answers by POSTing to that URL a CMS SignedData (DER, content attached) of a plist with the
attributes (``UDID``, ``SERIAL``, ``PRODUCT``, ``VERSION``, ``IMEI``, ``MEID``) and the
``CHALLENGE``, signed with its Apple-issued device identity. We verify the signature over
the content and the signer's chain to Apple's device CA (``apple_device_ca_fullchain``;
signatures only, since Apple's intermediates expired while devices still use them), then
answer with the enrollment profile whose SCEP challenge is bound to the proven UDID.
ADE's MachineInfo (a later issue) is the same signed-attributes shape.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from cryptography import x509

from espalier.pki import ca as ca_lib
from espalier.pki import cms

from .errors import MDMError
from .messages import ParseError, dump, parse_plist, str_value

MAX_BODY = 64 * 1024
DEVICE_ATTRIBUTES = ["UDID", "SERIAL", "PRODUCT", "VERSION", "IMEI", "MEID"]


class AttestationError(MDMError):
    """The device's signed attributes do not prove anything we can accept."""


@dataclass(frozen=True)
class DeviceAttributes:
    udid: str
    serial_number: str | None
    product: str | None
    version: str | None
    challenge: str
    signer: x509.Certificate


def profile_service_payload(display_name: str, organization: str, url: str, challenge: str,
                            identifier: str) -> bytes:
    """Phase 1: the profile that makes the device prove who it is (XML plist)."""
    return dump({
        "PayloadType": "Profile Service", "PayloadVersion": 1, "PayloadIdentifier": identifier,
        "PayloadUUID": str(uuid.uuid4()).upper(), "PayloadDisplayName": display_name,
        "PayloadOrganization": organization,
        "PayloadDescription": "Verifies this device before enrolling it in device management",
        "PayloadContent": {"URL": url, "DeviceAttributes": DEVICE_ATTRIBUTES, "Challenge": challenge},
    })


def verify_signed_plist(body: bytes, anchors: list[x509.Certificate], what: str) -> tuple[dict, x509.Certificate]:
    """A plist in a CMS SignedData (DER, content attached) signed by an Apple device identity
    (the profile service's device attributes, ADE's MachineInfo). Raises AttestationError."""
    if not body or len(body) > MAX_BODY:
        raise AttestationError(f"the signed {what} is missing or too large")
    try:
        signed = cms.load_signed_data(body)
        content = cms.encapsulated_content(signed)
        if content is None:
            raise AttestationError(f"the signed {what} carries no content")
        signer = cms.verify_signer(signed, content)
    except cms.CMSError as exc:
        raise AttestationError(f"the {what} signature does not verify: {exc}") from None
    try:
        ca_lib.verify_chain(signer, anchors, check_validity=False)
    except ca_lib.CAError as exc:
        raise AttestationError(f"the {what} is not signed by an Apple device identity: {exc}") from None
    try:
        return parse_plist(content), signer
    except ParseError as exc:
        raise AttestationError(f"unreadable {what}: {exc.reason}") from None


def verify_device_attributes(body: bytes, anchors: list[x509.Certificate]) -> DeviceAttributes:
    """Phase 2: the signed attributes, verified. Raises AttestationError."""
    attrs, signer = verify_signed_plist(body, anchors, "device attributes")
    try:
        udid, challenge = str_value(attrs, "UDID", 64), str_value(attrs, "CHALLENGE", 256)
        if udid is None or challenge is None:
            raise AttestationError("the signed device attributes need UDID and CHALLENGE")
        return DeviceAttributes(udid=udid, serial_number=str_value(attrs, "SERIAL", 64),
                                product=str_value(attrs, "PRODUCT", 64), version=str_value(attrs, "VERSION", 32),
                                challenge=challenge, signer=signer)
    except ParseError as exc:
        raise AttestationError(f"unreadable device attributes: {exc.reason}") from None
