"""A simulated device against the fake MDM server: enrollment, sessions, unenrollment."""
from __future__ import annotations

import base64
import plistlib

import httpx
import pytest
from asn1crypto import cms as asn1_cms

from espalier.sim.device import SimulatedDevice
from sim_fakes import BASE, SECRET, FakeMDM

ENROLL_URL = f"{BASE}/public/enroll/{SECRET}/"


def _enrolled(fake: FakeMDM, device: SimulatedDevice | None = None) -> SimulatedDevice:
    device = device or SimulatedDevice.mac()
    assert device.enroll(ENROLL_URL, fake.client()), device.errors
    return device


def test_enrollment_sends_authenticate_then_token_update(fake_mdm: FakeMDM):
    device = _enrolled(fake_mdm)
    authenticate, token_update = fake_mdm.checkins
    assert authenticate == {
        "MessageType": "Authenticate", "Topic": "com.apple.mgmt.External.fake", "UDID": device.facts.udid,
        "SerialNumber": device.facts.serial, "OSVersion": "14.6.1", "BuildVersion": "23G93",
        "ProductName": "Mac14,2", "Model": "Mac14,2", "ModelName": "MacBook Air",
        "DeviceName": device.facts.device_name}
    assert token_update["MessageType"] == "TokenUpdate" and token_update["AwaitingConfiguration"] is False
    assert token_update["Token"].hex() == device.push_token_hex and len(token_update["Token"]) == 32
    assert token_update["PushMagic"] == device.push_magic and "UnlockToken" not in token_update
    assert device.enrolled and device.mdm_profile_identifier in device.profiles
    cn = device.identity_cert.subject.rfc4514_string()
    assert cn == f"CN=espalier:{device.facts.udid},O=Espalier"
    assert fake_mdm.scep_requests[0].challenge == "one-challenge"


def test_iphone_sends_an_unlock_token_and_no_mac_keys(fake_mdm: FakeMDM):
    _enrolled(fake_mdm, SimulatedDevice.iphone())
    authenticate, token_update = fake_mdm.checkins
    assert "DeviceName" not in authenticate and "IMEI" in authenticate
    assert len(token_update["UnlockToken"]) > 0


def test_unsigned_profile_and_mtls_headers_by_default(fake_mdm: FakeMDM):
    fake_mdm.sign_profile = False
    device = _enrolled(fake_mdm)
    assert all("X-SSL-Client-Cert" in h and "Mdm-Signature" not in h for h in fake_mdm.headers)
    assert fake_mdm.identities[device.facts.udid] == device.identity_cert


@pytest.mark.parametrize("digest", ["sha1", "sha256"])
def test_sign_message_profile_makes_the_device_sign_every_body(fake_mdm: FakeMDM, digest):
    fake_mdm.sign_message = True
    device = _enrolled(fake_mdm, SimulatedDevice.mac(signature_digest=digest))
    device.connect()
    assert len(fake_mdm.headers) == 3
    for headers in fake_mdm.headers:
        assert "X-SSL-Client-Cert" not in headers
        signed = asn1_cms.ContentInfo.load(base64.b64decode(headers["Mdm-Signature"]))["content"]
        assert signed["digest_algorithms"][0]["algorithm"].native == digest
    assert fake_mdm.scep_requests[0].digest_algorithm == digest


def test_identity_mode_overrides_the_profile(fake_mdm: FakeMDM):
    fake_mdm.sign_message = True
    _enrolled(fake_mdm, SimulatedDevice.ipad(identity_mode="mtls"))
    assert all("X-SSL-Client-Cert" in h for h in fake_mdm.headers)


@pytest.mark.parametrize("cipher", ["aes128", "aes256", "des3", "des"])
def test_scep_envelope_cipher_is_a_knob(fake_mdm: FakeMDM, cipher):
    _enrolled(fake_mdm, SimulatedDevice.intel_mac(scep_cipher=cipher))
    assert fake_mdm.scep_requests[0].envelope_cipher == cipher


def test_getcacert_with_a_content_type_parameter_fails_enrollment(fake_mdm: FakeMDM):
    fake_mdm.cacert_content_type = "application/x-x509-ca-cert; charset=utf-8"
    device = SimulatedDevice.mac()
    assert device.enroll(ENROLL_URL, fake_mdm.client()) is False
    assert "GetCACert" in device.errors[0] and not device.enrolled and fake_mdm.checkins == []


def test_blocked_device_gets_no_profile(fake_mdm: FakeMDM):
    device = SimulatedDevice.iphone()
    fake_mdm.blocked.add(device.facts.serial)
    assert device.enroll(ENROLL_URL, fake_mdm.client()) is False
    assert device.errors == ["enrollment profile: HTTP 403"]


def test_refused_authenticate_leaves_nothing_installed(fake_mdm: FakeMDM):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400) if request.url.path == "/mdm/checkin" else fake_mdm.handle(request)
    device = SimulatedDevice.mac()
    assert device.enroll(ENROLL_URL, httpx.Client(transport=httpx.MockTransport(handler))) is False
    assert device.errors == ["Authenticate: HTTP 400 "]
    assert device.identity_cert is None and device.profiles == {} and not device.unenrolled_by_server


def test_connect_reports_each_result_until_an_empty_answer(fake_mdm: FakeMDM):
    device = _enrolled(fake_mdm)
    udid = device.facts.udid
    first = fake_mdm.queue(udid, "DeviceInformation", Queries=["SerialNumber"])
    second = fake_mdm.queue(udid, "Bogus")
    assert device.connect() == [("DeviceInformation", "Acknowledged"), ("Bogus", "Error")]
    idle, info, error = fake_mdm.reports
    assert idle == {"UDID": udid, "Status": "Idle"}
    assert info == {"UDID": udid, "Status": "Acknowledged", "CommandUUID": first,
                    "QueryResponses": {"SerialNumber": device.facts.serial}}
    assert error["CommandUUID"] == second and error["ErrorChain"][0]["ErrorCode"] == 12021
    assert [c.request_type for c in device.commands] == ["DeviceInformation", "Bogus"]
    assert device.connect() == [] and fake_mdm.reports[-1]["Status"] == "Idle"


def test_locked_device_says_notnow_and_runs_the_command_once_unlocked(fake_mdm: FakeMDM):
    device = _enrolled(fake_mdm, SimulatedDevice.iphone(locked=True))
    fake_mdm.queue(device.facts.udid, "ProfileList")
    assert device.connect() == [("ProfileList", "NotNow")]
    device.locked = False
    assert device.connect() == [("ProfileList", "Acknowledged")]
    assert device.errors == []


def test_notnow_command_resent_in_the_same_session_is_recorded_as_a_server_bug(fake_mdm: FakeMDM):
    device = _enrolled(fake_mdm, SimulatedDevice.iphone(locked=True))
    fake_mdm.queue(device.facts.udid, "ProfileList")
    command = fake_mdm.queues[device.facts.udid][0]

    def forgetful(request: httpx.Request) -> httpx.Response:
        response = fake_mdm.handle(request)
        if request.url.path == "/mdm/connect" and plistlib.loads(request.content)["Status"] == "NotNow":
            return httpx.Response(200, content=plistlib.dumps(command))
        return response
    device.client = httpx.Client(transport=httpx.MockTransport(forgetful))
    assert device.connect() == [("ProfileList", "NotNow")]
    assert "resent in the session that got NotNow" in device.errors[0]


def test_unrecognized_device_answer_unenrolls_the_device(fake_mdm: FakeMDM):
    device = _enrolled(fake_mdm)
    fake_mdm.unrecognized.add(device.facts.udid)
    assert device.connect() == []
    assert device.unenrolled_by_server and not device.enrolled
    assert device.identity_cert is None and device.profiles == {} and device.push_token_hex == ""
    assert device.connect() == [] and device.checkin("TokenUpdate") is None


def test_other_errors_are_recorded_and_keep_the_enrollment(fake_mdm: FakeMDM):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500) if request.url.path == "/mdm/connect" else fake_mdm.handle(request)
    device = SimulatedDevice.mac()
    assert device.enroll(ENROLL_URL, httpx.Client(transport=httpx.MockTransport(handler)))
    assert device.connect() == [] and device.enrolled
    assert device.errors == ["connect: HTTP 500 "]


def test_renewal_swaps_the_identity_and_later_requests_use_it(fake_mdm: FakeMDM):
    device = _enrolled(fake_mdm)
    old = device.identity_cert
    assert device.renew_identity(), device.errors
    renewal = fake_mdm.scep_requests[-1]
    assert renewal.message_type == 17 and renewal.signer_cert == old and renewal.challenge is None
    assert device.identity_cert != old and device.identity_cert.subject == old.subject
    device.connect()
    assert fake_mdm.identities[device.facts.udid] == device.identity_cert


def test_removing_the_mdm_profile_checks_out(fake_mdm: FakeMDM):
    device = _enrolled(fake_mdm)
    fake_mdm.queue(device.facts.udid, "RemoveProfile", Identifier=device.mdm_profile_identifier)
    assert device.connect() == [("RemoveProfile", "Acknowledged")]
    assert fake_mdm.checkins[-1]["MessageType"] == "CheckOut"
    assert not device.enrolled and not device.unenrolled_by_server


def test_checkout_without_check_out_when_removed_sends_nothing(fake_mdm: FakeMDM):
    fake_mdm.check_out_when_removed = False
    device = _enrolled(fake_mdm)
    fake_mdm.queue(device.facts.udid, "RemoveProfile", Identifier=device.mdm_profile_identifier)
    device.connect()
    assert [c["MessageType"] for c in fake_mdm.checkins] == ["Authenticate", "TokenUpdate"]
    assert not device.enrolled


def test_bootstrap_token_round_trip(fake_mdm: FakeMDM):
    device = _enrolled(fake_mdm)
    assert device.get_bootstrap_token() == b""
    assert device.set_bootstrap_token(b"\x01" * 40)
    assert device.get_bootstrap_token() == b"\x01" * 40
    message = fake_mdm.checkins[-1]
    assert message == {"MessageType": "GetBootstrapToken", "UDID": device.facts.udid,
                       "AwaitingConfiguration": False}


def test_installed_profile_survives_into_profile_list(fake_mdm: FakeMDM):
    device = _enrolled(fake_mdm)
    payload = plistlib.dumps({"PayloadIdentifier": "com.example.extra", "PayloadUUID": "x",
                              "PayloadType": "Configuration", "PayloadVersion": 1, "PayloadContent": []})
    fake_mdm.queue(device.facts.udid, "InstallProfile", Payload=payload)
    fake_mdm.queue(device.facts.udid, "ProfileList")
    device.connect()
    listed = {p["PayloadIdentifier"] for p in fake_mdm.reports[-1]["ProfileList"]}
    assert listed == {"com.example.mdm", "com.example.extra"}
