"""The protocol core meets device messages it did not write: Apple-shaped answers in testdata/."""
from __future__ import annotations

import json
import plistlib
from pathlib import Path

import pytest

from espalier.mdm import messages
from espalier.models import EnrolledDevice
from espalier.sim.wire import mtls_headers

TESTDATA = Path(__file__).resolve().parents[1] / "testdata"
CONNECT = {"Content-Type": "application/x-apple-aspen-mdm"}


def _report(name: str, udid: str, command_uuid: str, binary: bool = False) -> bytes:
    text = (TESTDATA / name).read_text().replace("[[UDID]]", udid).replace("[[CommandUUID]]", command_uuid)
    if binary:  # the same answer as a binary plist
        return plistlib.dumps(plistlib.loads(text.encode()), fmt=plistlib.FMT_BINARY)
    return text.encode()


def _answer(client, admin, sim, device_id, request_type: str, name: str, binary: bool = False):
    queued = client.post(f"/api/mdm/devices/{device_id}/commands/", headers=admin,
                         json={"name": request_type, "arguments": {}})
    assert queued.status_code == 201, queued.json
    body = _report(name, sim.facts.udid, queued.json["uuid"], binary)
    resp = client.put("/mdm/connect", data=body, headers={**CONNECT, **mtls_headers(sim.identity_cert)})
    assert resp.status_code == 200, resp.data
    return client.get(f"/api/mdm/devices/commands/{queued.json['uuid']}/", headers=admin).json


def _row(runtime, device_id) -> EnrolledDevice:
    with runtime.db.session() as s:
        return s.get(EnrolledDevice, device_id)


@pytest.mark.parametrize("binary", [False, True])
def test_macos_inventory_answers_fill_the_device(client, admin, enrolled, runtime, binary):
    sim, device_id = enrolled("intel_t1")  # the answers say otherwise: they win
    assert _answer(client, admin, sim, device_id, "DeviceInformation", "macos_device_information.plist",
                   binary)["status"] == "Acknowledged"
    assert _answer(client, admin, sim, device_id, "SecurityInfo", "macos_security_info.plist",
                   binary)["status"] == "Acknowledged"
    d = _row(runtime, device_id)
    assert (d.serial_number, d.os_version, d.build_version, d.model, d.platform) == \
        ("L9XK72V0QH", "14.7.1", "23H222", "Mac15,7", "macOS")
    assert d.name == "Maria’s MacBook Pro" and d.apple_silicon is True and d.supervised is True
    assert (d.pin_required_for_lock, d.pin_required_for_erase) == (False, False)
    assert d.filevault_enabled is True and d.dep_enrollment is True and d.user_approved_enrollment is True
    assert d.activation_lock_manageable is True and d.last_inventory_at is not None


def test_ios_inventory_answers_fill_the_device(client, admin, enrolled, runtime):
    sim, device_id = enrolled("iphone")
    _answer(client, admin, sim, device_id, "DeviceInformation", "ios_device_information.plist")
    _answer(client, admin, sim, device_id, "SecurityInfo", "ios_security_info.plist")
    d = _row(runtime, device_id)
    assert (d.platform, d.model, d.os_version, d.supervised, d.serial_number) == \
        ("iOS", "iPhone14,7", "18.1", False, "F4GZQ1X2N7")
    assert d.filevault_enabled is None  # not a Mac: nothing claimed


@pytest.mark.parametrize("flavour, name", [("mac", "macos_profile_list.plist"), ("iphone", "ios_profile_list.plist")])
def test_profile_lists_are_kept_as_json(client, admin, enrolled, flavour, name):
    sim, device_id = enrolled(flavour)
    result = _answer(client, admin, sim, device_id, "ProfileList", name)["result"]
    profiles = {p["PayloadIdentifier"]: p for p in result["ProfileList"]}
    assert profiles["com.espalier.mdm.enrollment.1"]["IsManaged"] is True
    signer = profiles["com.espalier.mdm.enrollment.1"]["SignerCertificates"][0]
    assert isinstance(signer, str) and signer.startswith("MII")  # data, as base64
    assert [p["PayloadType"] for p in profiles["com.espalier.mdm.enrollment.1"]["PayloadContent"]] == \
        ["com.apple.security.scep", "com.apple.mdm"]


def test_a_ddm_status_report_decodes_into_its_typed_message():
    report = (TESTDATA / "ddm_status_report.json").read_text().replace("[[UDID]]", "UDID-1").encode()
    msg = messages.parse_plist(plistlib.dumps({"MessageType": "DeclarativeManagement", "UDID": "UDID-1",
                                               "Endpoint": "status", "Data": report}))
    decoded = messages.DeclarativeManagement.decode(msg, messages.channel_of(msg))
    assert decoded.endpoint == "status" and decoded.channel.udid == "UDID-1"
    configurations = decoded.data["StatusItems"]["management"]["declarations"]["configurations"]
    assert [(c["identifier"], c["valid"]) for c in configurations] == \
        [("com.espalier.passcode", "valid"), ("com.espalier.enforcement", "invalid")]
    assert decoded.data["FullReport"] is True
    bad = dict(msg, Data=b"[1, 2]")
    with pytest.raises(messages.ParseError, match="JSON object"):
        messages.DeclarativeManagement.decode(bad, messages.channel_of(bad))
    assert json.loads(report)["Errors"][0]["StatusItem"] == "softwareupdate.failure-reason"
