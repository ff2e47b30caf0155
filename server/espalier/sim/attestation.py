"""The device side of Apple's profile service flow: prove who it is with an Apple-issued identity.

Given a profile whose ``PayloadType`` is ``Profile Service``, a device answers its ``URL``
with the requested ``DeviceAttributes`` and the ``Challenge`` as a plist, in a CMS
SignedData (content attached) signed by its device identity. Real devices hold an identity
from Apple's device CA; simulated ones get one from a stand-in CA (tests) or have none, and
then cannot enroll where the server asks for attestation.
"""
from __future__ import annotations

import plistlib
from typing import Any

from espalier.sim.facts import DeviceFacts
from espalier.sim.signing import signed_data

SIGNED_ATTRIBUTES_TYPE = "application/pkcs7-signature"


def device_attributes(facts: DeviceFacts, wanted: list[str], challenge: str) -> bytes:
    """The attributes plist a device sends: what the payload asked for that it has, and the challenge."""
    known = {"UDID": facts.udid, "SERIAL": facts.serial, "PRODUCT": facts.model, "VERSION": facts.build_version,
             "IMEI": facts.imei if facts.platform != "macOS" else None}
    attrs: dict[str, Any] = {k: v for k, v in known.items() if k in wanted and v}
    attrs["CHALLENGE"] = challenge
    return plistlib.dumps(attrs, fmt=plistlib.FMT_XML)


def signed_attributes(facts: DeviceFacts, payload: dict[str, Any], identity) -> bytes:
    """The phase 2 body for a ``Profile Service`` payload's content, signed with ``identity`` (cert, key)."""
    content = payload.get("PayloadContent") if isinstance(payload.get("PayloadContent"), dict) else {}
    plist = device_attributes(facts, list(content.get("DeviceAttributes") or []), str(content.get("Challenge", "")))
    cert, key = identity
    return signed_data(plist, cert, key)


def machine_info(facts: DeviceFacts, identity, *, can_request_software_update: bool = True) -> bytes:
    """ADE: the MachineInfo a device posts to its enrollment profile's url, signed with ``identity``."""
    info: dict[str, Any] = {"UDID": facts.udid, "SERIAL": facts.serial, "PRODUCT": facts.model,
                            "VERSION": facts.build_version, "OS_VERSION": facts.os_version, "LANGUAGE": "en-US",
                            "MDM_CAN_REQUEST_SOFTWARE_UPDATE": can_request_software_update,
                            "SOFTWARE_UPDATE_DEVICE_ID": facts.software_update_device_id}
    if facts.platform != "macOS" and facts.imei:
        info["IMEI"] = facts.imei
    cert, key = identity
    return signed_data(plistlib.dumps(info, fmt=plistlib.FMT_XML), cert, key)
