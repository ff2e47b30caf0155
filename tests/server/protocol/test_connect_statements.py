"""The device hot paths, counted: statements and transactions per Idle connect, report and Authenticate.

An Idle connect of a device with nothing to do is two statements in one transaction (the
session UPDATE ... RETURNING, the next command's id); a regression that adds a query, an
ORM load or a second transaction fails here. Authenticate of a new device asks its
certificate's origin, whether the device is blocked and whether the certificate is bound to
another device in one statement, then locks the device row (none yet), inserts it and ties
the session to it.
"""
from __future__ import annotations

import re

import pytest

from espalier.models import convergence_epoch
from espalier.sim.device import SimulatedDevice


@pytest.fixture
def mdm_settings(both_identity_modes):
    return both_identity_modes


@pytest.fixture
def settings(both_databases):
    return both_databases


def test_an_idle_connect_with_nothing_to_do_is_two_statements_in_one_transaction(enrolled, counted):
    sim, _ = enrolled("mac")
    assert sim.connect() == [("DeviceInformation", "Acknowledged"), ("SecurityInfo", "Acknowledged")], sim.errors
    with counted() as seen:
        assert sim.connect() == [], sim.errors
    assert [s.split()[0] for s in seen["statements"]] == ["UPDATE", "SELECT"], seen["statements"]
    assert (seen["commits"], seen["rollbacks"]) == (1, 0)


def _device_information_session(enrolled, client, admin, counted) -> tuple:
    """(the iPhone, the statements seen) of a session answering one DeviceInformation queued
    through the API once its enrollment's inventory was answered."""
    sim, device_id = enrolled("iphone")
    sim.connect()
    resp = client.post(f"/api/mdm/devices/{device_id}/commands/", headers=admin, json={"name": "DeviceInformation"})
    assert resp.status_code == 201, resp.json
    with counted() as seen:
        assert sim.connect() == [("DeviceInformation", "Acknowledged")], sim.errors
    return sim, seen


def test_an_idle_connect_hands_out_a_queued_command_once(enrolled, client, admin, counted):
    sim, seen = _device_information_session(enrolled, client, admin, counted)
    assert seen["commits"] == 2  # the Idle connect, then the report
    idle = seen["statements"][:[st.startswith("UPDATE device_commands SET time=") for st in seen["statements"]].index(True) + 1]
    # the session UPDATE, its work, then the command stamped and read in one statement: its
    # payload needs no ORM device
    assert [st.split()[0] for st in idle] == ["UPDATE", "SELECT", "UPDATE"], idle
    assert "uuid" in idle[2].partition(" RETURNING ")[2] and "enrolled_devices" not in idle[2], idle
    assert sim.connect() == []


def test_a_blocked_device_is_refused_and_its_session_stamp_rolled_back(enrolled, client, admin, runtime):
    from espalier.models import EnrolledDevice

    sim, device_id = enrolled("mac")
    sim.connect()
    with runtime.db.session() as s:
        before = s.get(EnrolledDevice, device_id).session_started_at
    resp = client.post(f"/api/mdm/devices/{device_id}/block/", headers=admin)
    assert resp.status_code == 200, resp.json
    sim.connect()
    with runtime.db.session() as s:
        assert s.get(EnrolledDevice, device_id).session_started_at == before



def test_ddm_costs_a_blueprint_device_without_declarations_no_statement_of_its_own(
        enrolled, client, admin, enrollment, counted, runtime):
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "Plain"}).json
    client.put(f"/api/mdm/ota_enrollments/{enrollment['id']}/", headers=admin, json={"blueprint": bp["id"]})
    sim, _ = enrolled("mac")  # DDM-capable
    sim.connect()
    with runtime.db.session() as s, s.begin():  # a new epoch: every step evaluates, the blueprint is read anew
        convergence_epoch.bump(s)
    with counted() as seen:
        assert sim.connect() == [], sim.errors
    tables = {t for s in seen["statements"][2:] for t in re.findall(r"(?:FROM|JOIN|UPDATE|INTO) (\w+)", s)}
    assert not tables & {"declarations", "device_declarations", "device_commands"}, seen["statements"]
    assert sum(s.startswith("SELECT blueprints.") for s in seen["statements"]) == 1  # the steps' shared read


def test_a_reported_result_asks_nothing_of_store_apps_beyond_the_device_lookup(
        enrolled, client, admin, enrollment, counted):
    """The session's last report runs the scheduling steps on the ORM device: the locked lookup
    of the device told the store app step that it holds none (no EXISTS of its own)."""
    bp = client.post("/api/mdm/blueprints/", headers=admin, json={"name": "Plain"}).json
    client.put(f"/api/mdm/ota_enrollments/{enrollment['id']}/", headers=admin, json={"blueprint": bp["id"]})
    _, seen = _device_information_session(enrolled, client, admin, counted)
    assert not any(s.startswith("SELECT EXISTS") for s in seen["statements"]), seen["statements"]


def test_a_first_device_information_reads_software_update_state_once_and_writes_the_device_once(enrolled, counted):
    """Before it has software update state, the device's DeviceInformation reads that row once (a
    missing row is not asked again) and its inventory changes reach the device row in one UPDATE."""
    sim, _ = enrolled("mac")
    with counted() as seen:
        assert sim.connect() == [("DeviceInformation", "Acknowledged"), ("SecurityInfo", "Acknowledged")], sim.errors
    handed_out = [i for i, st in enumerate(seen["statements"]) if st.startswith("UPDATE device_commands SET time=")]
    first_report = seen["statements"][handed_out[0] + 1:handed_out[1]]  # DeviceInformation's, to SecurityInfo's handout
    assert sum(s.startswith("SELECT device_software_updates.") for s in first_report) == 1, first_report
    assert sum(s.startswith("UPDATE enrolled_devices ") for s in first_report) == 1, first_report
    assert not [s for s in seen["statements"] if "SAVEPOINT" in s]  # a result's handler runs in the report's transaction


def test_a_report_on_the_device_channel_finds_its_command_with_the_device_lookup(enrolled, client, admin, counted):
    """The report's request: the device locked with the command it reports on (one statement),
    then its result's handler and the command's status; no lookup of the command of its own."""
    _, seen = _device_information_session(enrolled, client, admin, counted)
    sent = seen["statements"]
    handed_out = next(i for i, st in enumerate(sent) if st.startswith("UPDATE device_commands SET time="))
    report = sent[handed_out + 1:]
    assert report[0].startswith("SELECT enrolled_devices."), report
    status = next(i for i, st in enumerate(report) if st.startswith("UPDATE device_commands SET "))
    assert not any(st.startswith("SELECT device_commands.") for st in report[:status]), report  # its handler's reads only



def test_a_report_of_a_device_with_nothing_to_converge_writes_no_mark(enrolled, client, admin, counted):
    """No blueprint and no artifact rows: convergence reads one empty result, and a mark (a row
    write to save that read) is not worth writing."""
    sim, device_id = enrolled("mac")
    with counted() as first:
        assert sim.connect() == [("DeviceInformation", "Acknowledged"), ("SecurityInfo", "Acknowledged")], sim.errors
    resp = client.post(f"/api/mdm/devices/{device_id}/commands/", headers=admin, json={"name": "SecurityInfo"})
    assert resp.status_code == 201, resp.json
    with counted() as seen:
        assert sim.connect() == [("SecurityInfo", "Acknowledged")], sim.errors
    for window in (first, seen):
        assert not [s for s in window["statements"] if s.startswith("UPDATE enrolled_devices SET converged_epoch")]


AUTHENTICATE = ("SELECT issued_certificates.", "SELECT enrolled_devices.", "INSERT INTO enrolled_devices ",
                "UPDATE enrollment_sessions ")


def test_authenticate_of_a_new_device_is_four_statements_in_one_transaction(enrollment, http, counted):
    sim = SimulatedDevice.flavour("mac")
    sim.client = http
    assert sim.download_profile(enrollment["enroll_url"]) and sim.request_identity(), sim.errors
    with counted() as seen:
        assert sim.enrollment_checkin("Authenticate"), sim.errors
    sent = seen["statements"]
    assert len(sent) == len(AUTHENTICATE) and all(map(str.startswith, sent, AUTHENTICATE)), sent
    origin = sent[0]
    assert "blocked_devices" in origin and "cert_fingerprint" in origin  # the claim's questions, asked with it
    assert "push_certificates.private_key" not in origin and "push_certificates.certificate" not in origin
    assert (seen["commits"], seen["rollbacks"]) == (1, 0)
    assert sim.enrollment_checkin("TokenUpdate"), sim.errors


ENROLLMENT_STEPS = {
    # the enrollment and its push topic (not the push key), the blocked check, the session
    "profile": ("SELECT ota_enrollments.", "SELECT (EXISTS", "INSERT INTO enrollment_sessions "),
    # GetCACaps and GetCACert: nothing; PKIOperation: the challenge spent, the certificate recorded
    "identity": ("UPDATE enrollment_sessions ", "INSERT INTO issued_certificates "),
    # the certificate's origin with the claim's questions, the claimed UDID's row locked, the
    # device written (its INSERT names only the columns Authenticate sets), the session
    "Authenticate": ("SELECT issued_certificates.", "SELECT enrolled_devices.id, enrolled_devices.cert_fingerprint",
                     "INSERT INTO enrolled_devices ", "UPDATE enrollment_sessions "),
    # the few columns of the device row it locks, the tokens (with the enrollment time, the
    # inventory stamp and the marks), both inventory commands in one INSERT
    "TokenUpdate": ("SELECT enrolled_devices.id, enrolled_devices.udid, enrolled_devices.cert_fingerprint",
                    "UPDATE enrolled_devices ", "INSERT INTO device_commands "),
}


def test_an_enrollment_s_steps_are_a_few_statements_one_transaction_each(enrollment, http, counted):
    first = SimulatedDevice.flavour("mac")
    first.client = http
    assert first.enroll(enrollment["enroll_url"]), first.errors  # the CA made and cached
    sim = SimulatedDevice.flavour("mac")
    sim.client = http
    steps = {"profile": lambda: sim.download_profile(enrollment["enroll_url"]), "identity": sim.request_identity,
             "Authenticate": lambda: sim.enrollment_checkin("Authenticate"),
             "TokenUpdate": lambda: sim.enrollment_checkin("TokenUpdate")}
    for name, step in steps.items():
        with counted() as seen:
            assert step(), sim.errors
        if name not in ENROLLMENT_STEPS:
            continue
        sent, expected = seen["statements"], ENROLLMENT_STEPS[name]
        assert len(sent) == len(expected) and all(map(str.startswith, sent, expected)), (name, sent)
        assert (seen["commits"], seen["rollbacks"]) == (1, 0), (name, seen)  # GetCACaps and GetCACert: none
        if name == "profile":
            assert "push_certificates_1.topic" in sent[0] and "private_key" not in sent[0], sent[0]
        if name == "Authenticate":
            assert "push_token" not in sent[2] and "bootstrap_token" not in sent[2], sent[2]
    assert sim.connect() == [("DeviceInformation", "Acknowledged"), ("SecurityInfo", "Acknowledged")], sim.errors
