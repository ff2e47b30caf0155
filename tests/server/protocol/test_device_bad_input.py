"""Hostile bytes at the device endpoints: always a clear 4xx, never a 500, nothing written."""
from __future__ import annotations

import base64
import plistlib
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from espalier.models import DeviceCommand, EnrolledDevice


CHECKIN = {"Content-Type": "application/x-apple-aspen-mdm-checkin"}
CONNECT = {"Content-Type": "application/x-apple-aspen-mdm"}


@pytest.fixture
def mdm_settings():
    return {"mtls_proxy": True, "max_body_bytes": 256 * 1024}


@pytest.fixture
def device_headers(enrolled):
    """mTLS headers of a real enrolled device, and the device."""
    from espalier.sim.device import mtls_headers

    sim, device_id = enrolled("mac")
    return mtls_headers(sim.identity_cert), sim, device_id


def counts(runtime):
    with runtime.db.session() as s:
        return s.scalar(select(func.count(EnrolledDevice.id))), s.scalar(select(func.count(DeviceCommand.id)))


def nested(depth):
    value = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("body, reason", [
    (b"", "empty body"),
    (b"<plist><dict><key>MessageType", "malformed plist"),
    (b"bplist00\xd1\x01\x02\x53abc", "malformed plist"),
    (plistlib.dumps(["not", "a", "dict"]), "must be a dictionary"),
    (plistlib.dumps({"MessageType": "Authenticate", "Deep": nested(200)}), "nested too deeply"),
    (b'<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "aaaa">]><plist><dict><key>a</key><string>&a;</string>'
     b"</dict></plist>", "malformed plist"),
])
def test_unreadable_bodies_are_400(client, device_headers, runtime, body, reason):
    headers, _, _ = device_headers
    before = counts(runtime)
    for url, ctype in (("/mdm/checkin", CHECKIN), ("/mdm/connect", CONNECT)):
        resp = client.put(url, data=body, headers={**ctype, **headers})
        assert resp.status_code == 400, (url, resp.data)
        assert reason in resp.get_data(as_text=True)
    assert counts(runtime) == before


@pytest.mark.parametrize("message, reason", [
    ({"MessageType": "Reboot", "UDID": "X"}, "unsupported MessageType"),
    ({"MessageType": "TokenUpdate"}, "missing UDID"),
    ({"MessageType": "TokenUpdate", "UDID": ["list"]}, "UDID must be"),
    ({"UDID": "X", "Status": "Finished"}, "unknown Status"),
])
def test_wrong_messages_are_400(client, device_headers, message, reason):
    headers, sim, _ = device_headers
    message = {k: (sim.facts.udid if v == "X" else v) for k, v in message.items()}
    url, ctype = ("/mdm/connect", CONNECT) if "Status" in message else ("/mdm/checkin", CHECKIN)
    resp = client.put(url, data=plistlib.dumps(message), headers={**ctype, **headers})
    assert resp.status_code == 400 and reason in resp.get_data(as_text=True)


def test_unknown_device_is_told_to_unenroll(client, device_headers):
    headers, _, _ = device_headers
    msg = plistlib.dumps({"UDID": "00000000-0000-0000-0000-000000000000", "Status": "Idle"})
    resp = client.put("/mdm/connect", data=msg, headers={**CONNECT, **headers})
    assert resp.status_code == 403 and resp.json["code"] == "com.apple.unrecognized.device"


def test_body_over_the_limit_is_413(client, device_headers):
    headers, sim, _ = device_headers
    big = plistlib.dumps({"UDID": sim.facts.udid, "Status": "Idle", "Pad": "x" * (300 * 1024)})
    resp = client.put("/mdm/connect", data=big, headers={**CONNECT, **headers})
    assert resp.status_code == 413


@pytest.mark.parametrize("headers, reason", [
    ({}, "missing X-SSL-Client-Cert"),
    ({"X-SSL-Client-Cert": "garbage"}, "not a PEM certificate"),
    ({"X-SSL-Client-Cert": quote("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")},
     "not a PEM certificate"),
])
def test_bad_certificate_headers_are_400(client, device_headers, headers, reason):
    _, sim, _ = device_headers
    msg = plistlib.dumps({"UDID": sim.facts.udid, "Status": "Idle"})
    resp = client.put("/mdm/connect", data=msg, headers={**CONNECT, **headers})
    assert resp.status_code == 400 and reason in resp.get_data(as_text=True)


def test_certificate_from_an_unknown_ca_is_400(client, device_headers):
    from cryptography import x509

    from espalier.sim.wire import mtls_headers
    from fakes.push_certs import make_ca, make_push_cert

    _, sim, _ = device_headers
    stranger = x509.load_pem_x509_certificate(make_push_cert(make_ca("Somebody else's CA")).cert_pem)
    msg = plistlib.dumps({"UDID": sim.facts.udid, "Status": "Idle"})
    resp = client.put("/mdm/connect", data=msg, headers={**CONNECT, **mtls_headers(stranger)})
    assert resp.status_code == 400 and "untrusted device certificate" in resp.get_data(as_text=True)


@pytest.mark.parametrize("subject, reason", [
    (None, "missing X-SSL-Client-S-DN"),
    ("CN=someone else,O=Espalier", "does not name the certificate's subject"),
])
def test_the_proxy_subject_header_must_name_the_certificate(client, device_headers, subject, reason):
    """As in Zentral: with mtls_proxy, X-SSL-Client-S-DN is required and must match."""
    headers, sim, _ = device_headers
    headers = {k: v for k, v in headers.items() if k != "X-SSL-Client-S-DN"}
    if subject:
        headers["X-SSL-Client-S-DN"] = subject
    msg = plistlib.dumps({"UDID": sim.facts.udid, "Status": "Idle"})
    resp = client.put("/mdm/connect", data=msg, headers={**CONNECT, **headers})
    assert resp.status_code == 400 and reason in resp.get_data(as_text=True)


def test_the_proxy_subject_header_may_use_the_openssl_one_line_form(client, device_headers):
    headers, sim, _ = device_headers
    rdns = sorted(headers["X-SSL-Client-S-DN"].split(","))
    msg = plistlib.dumps({"UDID": sim.facts.udid, "Status": "Idle"})
    resp = client.put("/mdm/connect", data=msg, headers={**CONNECT, **headers,
                                                        "X-SSL-Client-S-DN": "/" + "/".join(rdns)})
    assert resp.status_code == 200


class TestSignatureMode:
    @pytest.fixture
    def mdm_settings(self):
        return {"mtls_proxy": False}

    @pytest.mark.parametrize("value, reason", [
        (None, "missing Mdm-Signature"),
        ("%%%not base64%%%", "not base64"),
        (base64.b64encode(b"\x30\x03garbage").decode(), "does not verify"),
    ])
    def test_bad_signatures_are_400(self, client, enrolled, value, reason):
        sim, _ = enrolled("mac")
        msg = plistlib.dumps({"UDID": sim.facts.udid, "Status": "Idle"})
        headers = {**CONNECT, **({"Mdm-Signature": value} if value else {})}
        resp = client.put("/mdm/connect", data=msg, headers=headers)
        assert resp.status_code == 400 and reason in resp.get_data(as_text=True)

    def test_signature_over_another_body_is_refused(self, client, enrolled):
        from espalier.sim.signing import mdm_signature

        sim, _ = enrolled("mac")
        signed = plistlib.dumps({"UDID": sim.facts.udid, "Status": "Idle"})
        sig = mdm_signature(signed, sim.identity_cert, sim.identity_key)
        tampered = plistlib.dumps({"UDID": sim.facts.udid, "Status": "Idle", "X": 1})
        resp = client.put("/mdm/connect", data=tampered, headers={**CONNECT, "Mdm-Signature": sig})
        assert resp.status_code == 400 and "does not verify" in resp.get_data(as_text=True)


text = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=20)
plist_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | text | st.binary(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=20)
messages = st.dictionaries(
    st.sampled_from(["MessageType", "UDID", "Status", "CommandUUID", "Token", "PushMagic", "Topic", "UserID",
                     "EnrollmentID", "QueryResponses", "ErrorChain", "BootstrapToken", "AwaitingConfiguration"]),
    st.one_of(st.sampled_from(["Authenticate", "TokenUpdate", "CheckOut", "Idle", "Acknowledged", "NotNow",
                               "Error", "SetBootstrapToken", "GetBootstrapToken", "UserAuthenticate"]),
              plist_values), max_size=8)


def _drop_none(value):
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value if v is not None]
    return value


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(message=messages, raw=st.binary(max_size=200), use_udid=st.booleans())
def test_fuzzed_messages_never_500(client, device_headers, message, raw, use_udid):
    headers, sim, _ = device_headers
    message = _drop_none(message)
    if use_udid:
        message["UDID"] = sim.facts.udid
    for body in (plistlib.dumps(message), raw):
        for url, ctype in (("/mdm/checkin", CHECKIN), ("/mdm/connect", CONNECT)):
            resp = client.put(url, data=body, headers={**ctype, **headers})
            assert resp.status_code < 500, (url, body, resp.data)
