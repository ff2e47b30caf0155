"""A report counts only for the channel it came on: the device channel's report cannot close a
user channel's command and the other way round (the device channel's command is found with
the device's locked lookup, a user channel's by its own query)."""
from __future__ import annotations

import plistlib

import pytest

from espalier.mdm import queue
from espalier.models import DeviceCommand, EnrolledUser

CHECKIN = {"Content-Type": "application/x-apple-aspen-mdm-checkin"}
CONNECT = {"Content-Type": "application/x-apple-aspen-mdm"}


@pytest.fixture(params=["postgresql", "sqlite"])
def settings(request, pg_url, settings_factory, sqlite_settings):
    """The joined lookup is a LEFT JOIN with FOR UPDATE OF on PostgreSQL, plain on SQLite."""
    return settings_factory(pg_url) if request.param == "postgresql" else sqlite_settings()


def _put(client, headers, url, ctype, **message):
    resp = client.put(url, data=plistlib.dumps(message), headers={**ctype, **headers})
    assert resp.status_code == 200, resp.data
    return resp.data


def _status(runtime, uuid):
    with runtime.db.session() as s:
        command = s.query(DeviceCommand).filter_by(uuid=uuid).one()
        return command.status, command.result_time is not None


def test_a_report_closes_only_its_own_channels_command(enrolled, client, runtime):
    from espalier.sim.device import mtls_headers

    sim, device_id = enrolled("mac")
    sim.connect()
    headers, udid = mtls_headers(sim.identity_cert), sim.facts.udid
    _put(client, headers, "/mdm/checkin", CHECKIN, MessageType="TokenUpdate", UDID=udid, UserID="U-1",
         UserShortName="ada", Token=b"\x01" * 32, PushMagic="magic", Topic=sim.mdm_payload["Topic"])
    with runtime.db.session() as s, s.begin():
        user_id = s.query(EnrolledUser).filter_by(enrolled_device_id=device_id, user_id="U-1").one().id
        for_device = queue.add_command(s, runtime.secrets, device_id, "DeviceInformation", {})
        for_user = queue.add_command(s, runtime.secrets, device_id, "ProfileList", {}, user_id)
        device_uuid, user_uuid = for_device.uuid, for_user.uuid

    # each channel reports the other's command: both ignored
    _put(client, headers, "/mdm/connect", CONNECT, UDID=udid, Status="Acknowledged", CommandUUID=user_uuid)
    _put(client, headers, "/mdm/connect", CONNECT, UDID=udid, UserID="U-1", Status="Acknowledged",
         CommandUUID=device_uuid)
    assert _status(runtime, device_uuid) == (None, False)
    assert _status(runtime, user_uuid) == (None, False)

    # each channel reports its own: both stored
    _put(client, headers, "/mdm/connect", CONNECT, UDID=udid, UserID="U-1", Status="Acknowledged",
         CommandUUID=user_uuid, ProfileList=[])
    _put(client, headers, "/mdm/connect", CONNECT, UDID=udid, Status="Error", CommandUUID=device_uuid,
         ErrorChain=[{"ErrorCode": 12021, "ErrorDomain": "MCMDMErrorDomain"}])
    assert _status(runtime, user_uuid) == ("Acknowledged", True)
    assert _status(runtime, device_uuid) == ("Error", True)


def test_a_report_of_another_devices_command_is_ignored(enrolled, client, runtime):
    from espalier.sim.device import mtls_headers

    sim, _ = enrolled("mac")
    other, other_id = enrolled("mac")
    sim.connect()
    with runtime.db.session() as s, s.begin():
        uuid = queue.add_command(s, runtime.secrets, other_id, "DeviceInformation", {}).uuid
    _put(client, mtls_headers(sim.identity_cert), "/mdm/connect", CONNECT, UDID=sim.facts.udid,
         Status="Acknowledged", CommandUUID=uuid, QueryResponses={"DeviceName": "stolen"})
    assert _status(runtime, uuid) == (None, False)
