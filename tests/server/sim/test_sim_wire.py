"""Wire details of the simulated device: profiles, identity headers, SCEP subjects, facts."""
from __future__ import annotations

import json
import plistlib
import re
from urllib.parse import unquote

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from espalier.sim.device import SimulatedDevice, mtls_headers, scep_subject
from espalier.sim.facts import CATALOGUE
from espalier.sim.profiles import ProfileError, read_profile
from espalier.sim.wire import unrecognized as _unrecognized
from sim_fakes import FakeMDM, sign_profile


def test_unsigned_profile_is_read_as_is(fake_mdm: FakeMDM):
    profile, signers = read_profile(plistlib.dumps(fake_mdm.profile()))
    assert profile["PayloadIdentifier"] == "com.example.mdm" and signers == []


def test_signed_profile_is_unwrapped_and_its_signer_returned(fake_mdm: FakeMDM, signer):
    profile, signers = read_profile(sign_profile(fake_mdm.profile(), *signer))
    assert {p["PayloadType"] for p in profile["PayloadContent"]} == {"com.apple.mdm", "com.apple.security.scep"}
    assert signers == [signer[0].public_bytes(serialization.Encoding.DER)]


def test_binary_plist_profile_is_read(fake_mdm: FakeMDM):
    data = plistlib.dumps(fake_mdm.profile(), fmt=plistlib.FMT_BINARY)
    assert read_profile(data)[0]["PayloadIdentifier"] == "com.example.mdm"


@pytest.mark.parametrize("data", [b"", b"\x30\x03\x02\x01\x01", plistlib.dumps({"PayloadType": "Configuration"})])
def test_unusable_profiles_raise_profile_error(data):
    with pytest.raises(ProfileError):
        read_profile(data)


def test_mtls_headers_escape_the_whole_pem_like_nginx(device_ca):
    cert = device_ca[0]
    headers = mtls_headers(cert)
    escaped = headers["X-SSL-Client-Cert"]
    assert re.fullmatch(r"[A-Za-z0-9%._~-]+", escaped), "only unreserved characters and %XX escapes"
    assert escaped.startswith("-----BEGIN%20CERTIFICATE-----%0A")
    assert x509.load_pem_x509_certificate(unquote(escaped).encode()) == cert
    assert headers["X-SSL-Client-S-DN"] == "O=Espalier,CN=Fake MDM Device CA"


def test_scep_subject_keeps_rdn_order_and_expands_variables():
    device = SimulatedDevice.mac()
    name = scep_subject([[["C", "CH"]], [["O", "Espalier"]], [["CN", "espalier:%HardwareUUID%"]],
                         [["2.5.4.5", "%SerialNumber%"]]], device.facts)
    assert [a.oid for a in name] == [NameOID.COUNTRY_NAME, NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME,
                                     NameOID.SERIAL_NUMBER]
    assert name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == f"espalier:{device.facts.udid}"
    assert name.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == device.facts.serial


@pytest.mark.parametrize(("response", "unenroll"), [
    (httpx.Response(403, json={"code": "com.apple.unrecognized.device"}), True),
    (httpx.Response(403, content=plistlib.dumps({"code": "com.apple.unrecognized.device", "message": "gone"})), True),
    (httpx.Response(403, content=json.dumps({"code": "other"}).encode()), False),
    (httpx.Response(403, text="Forbidden"), False),
    (httpx.Response(401, json={"code": "com.apple.unrecognized.device"}), False),
])
def test_only_a_403_unrecognized_device_means_unenroll(response, unenroll):
    assert _unrecognized(response) is unenroll


@pytest.mark.parametrize(("factory", "platform", "model"), [
    (SimulatedDevice.mac, "macOS", "Mac14,2"), (lambda: SimulatedDevice.mac(apple_silicon=False), "macOS",
                                                "MacBookPro16,1"),
    (lambda: SimulatedDevice.intel_mac(t2=False), "macOS", "MacBookPro14,1"),
    (SimulatedDevice.iphone, "iOS", "iPhone15,2"), (SimulatedDevice.ipad, "iPadOS", "iPad13,1")])
def test_flavours_have_consistent_facts(factory, platform, model):
    facts = factory().facts
    assert (facts.platform, facts.model) == (platform, model)
    assert re.fullmatch(r"[A-Z0-9]{12}", facts.serial)
    assert re.fullmatch(r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[0-9A-F]{4}-[0-9A-F]{12}", facts.udid)
    assert facts.device_name.endswith(facts.model_name)
    assert not (facts.apple_silicon and facts.t2)


def test_devices_get_distinct_identities():
    devices = [SimulatedDevice.flavour(name) for name in CATALOGUE for _ in range(20)]
    assert len({d.facts.serial for d in devices}) == len({d.facts.udid for d in devices}) == len(devices)
