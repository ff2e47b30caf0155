"""How a simulated device's requests and the server's replies look on the wire.

Content types, the identity headers an mTLS proxy forwards, the SCEP subject from the
enrollment profile, GetCACert replies, and the 403 that tells a device to unenroll.
"""

from __future__ import annotations

import json
import plistlib
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID, ObjectIdentifier

if TYPE_CHECKING:
    from espalier.sim.facts import DeviceFacts

CHECKIN_TYPE, CONNECT_TYPE = "application/x-apple-aspen-mdm-checkin", "application/x-apple-aspen-mdm"
UNRECOGNIZED = "com.apple.unrecognized.device"
_OIDS = {"CN": NameOID.COMMON_NAME, "O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
         "C": NameOID.COUNTRY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME, "L": NameOID.LOCALITY_NAME,
         "E": NameOID.EMAIL_ADDRESS, "EMAILADDRESS": NameOID.EMAIL_ADDRESS, "UID": NameOID.USER_ID,
         "DC": NameOID.DOMAIN_COMPONENT, "SERIALNUMBER": NameOID.SERIAL_NUMBER}


class EnrollmentError(Exception):
    """The device gives up enrolling (the reason goes to `device.errors`)."""


def mtls_headers(cert: x509.Certificate) -> dict[str, str]:
    """What an nginx mTLS proxy forwards: $ssl_client_escaped_cert and $ssl_client_s_dn."""
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return {"X-SSL-Client-Cert": quote(pem, safe=""), "X-SSL-Client-S-DN": cert.subject.rfc4514_string()}


def scep_subject(rdns: list[Any], facts: DeviceFacts) -> x509.Name:
    """An x509.Name from the SCEP payload's `Subject` ([[["CN", "x"]], ...]), variables expanded."""
    values = {"%HardwareUUID%": facts.udid, "%SerialNumber%": facts.serial, "%ComputerName%": facts.device_name}
    result = []
    for rdn in rdns:
        attributes = []
        for kind, value in rdn:
            for variable, replacement in values.items():
                value = value.replace(variable, replacement)
            oid = _OIDS.get(kind.upper()) or ObjectIdentifier(kind)
            attributes.append(x509.NameAttribute(oid, value))
        result.append(x509.RelativeDistinguishedName(attributes))
    return x509.Name(result)


def unrecognized(response: httpx.Response) -> bool:
    """A 403 whose JSON or plist body says com.apple.unrecognized.device: unenroll now."""
    if response.status_code != 403:
        return False
    for parse in (json.loads, plistlib.loads):
        try:
            body = parse(response.content)
        except Exception:  # noqa: BLE001 - either format may fail to parse
            continue
        if isinstance(body, dict) and body.get("code") == UNRECOGNIZED:
            return True
    return False


def ca_certs(response: httpx.Response) -> list[x509.Certificate]:
    """The certificates in a GetCACert reply: the CA alone, or a PKCS#7 bundle with the RA."""
    content_type = response.headers.get("content-type", "")
    if response.status_code != 200:
        raise EnrollmentError(f"GetCACert: HTTP {response.status_code}")
    if content_type == "application/x-x509-ca-cert":
        return [x509.load_der_x509_certificate(response.content)]
    if content_type == "application/x-x509-ca-ra-cert":
        return pkcs7.load_der_pkcs7_certificates(response.content)
    raise EnrollmentError(f"GetCACert: unexpected Content-Type {content_type!r}")


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False
