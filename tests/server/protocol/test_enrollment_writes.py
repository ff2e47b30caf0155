"""What Authenticate and TokenUpdate write, on PostgreSQL (``db.HotStatement``s on the
driver's cursor, one fixed shape each) and on SQLite (the same statements through SQLAlchemy):
a field the message lacks keeps the row's value, only an enrollment's first TokenUpdate
enrolls, and the unlock token is sealed to its row."""
from __future__ import annotations

import os

import pytest

from espalier.models import EnrolledDevice


@pytest.fixture
def settings(both_databases):
    return both_databases


def _row(runtime, device_id: int) -> EnrolledDevice:
    with runtime.db.session() as s:
        return s.get(EnrolledDevice, device_id)


def _pending(client, admin, device_id: int) -> list[str]:
    found = client.get(f"/api/mdm/devices/commands/?enrolled_device={device_id}&status=pending", headers=admin).json
    return sorted(c["name"] for c in found)


def test_token_updates_store_the_tokens_and_only_the_first_enrolls(client, admin, enrolled, runtime):
    sim, device_id = enrolled("iphone")
    first = _row(runtime, device_id)
    assert (first.push_token, first.push_magic) == (sim.push_token_hex, sim.push_magic)
    assert sim.unlock_token and runtime.secrets.open(first, "unlock_token") == sim.unlock_token
    assert first.enrolled_at is not None and first.inventory_queued_at == first.enrolled_at
    assert first.awaiting_configuration is False and first.last_seen_at is not None
    assert _pending(client, admin, device_id) == ["DeviceInformation", "SecurityInfo"]

    unlock = sim.unlock_token
    sim.push_token, sim.push_magic, sim.unlock_token = os.urandom(32), "NEW-MAGIC", b""  # no UnlockToken sent
    assert sim.enrollment_checkin("TokenUpdate"), sim.errors
    later = _row(runtime, device_id)
    assert (later.push_token, later.push_magic) == (sim.push_token.hex(), "NEW-MAGIC")
    assert runtime.secrets.open(later, "unlock_token") == unlock  # kept, still bound to its row
    assert (later.enrolled_at, later.inventory_queued_at) == (first.enrolled_at, first.inventory_queued_at)
    assert later.last_seen_at >= first.last_seen_at
    assert _pending(client, admin, device_id) == ["DeviceInformation", "SecurityInfo"]  # not queued again


def test_a_token_update_clears_a_push_token_apns_refused(client, admin, enrolled, runtime):
    from sqlalchemy import update

    sim, device_id = enrolled("mac")
    with runtime.db.session() as s, s.begin():
        s.execute(update(EnrolledDevice).where(EnrolledDevice.id == device_id).values(
            push_token_invalid_at=EnrolledDevice.enrolled_at, push_token_error="Unregistered", converged_epoch=7))
    sim.push_token = os.urandom(32)
    assert sim.enrollment_checkin("TokenUpdate"), sim.errors
    row = _row(runtime, device_id)
    assert (row.push_token, row.push_token_invalid_at, row.push_token_error) == (sim.push_token_hex, None, None)
    assert row.converged_epoch == 7  # not an enrollment's first TokenUpdate: its marks stay


def test_reauthenticate_keeps_what_the_message_lacks_and_forgets_the_old_enrollment(client, admin, enrolled,
                                                                                      runtime):
    """An iPhone's Authenticate carries no DeviceName: the name DeviceInformation reported
    stays; what it carries replaces the row's; the old enrollment's tokens and marks go."""
    from sqlalchemy import update

    sim, device_id = enrolled("iphone")
    assert sim.connect() == [("DeviceInformation", "Acknowledged"), ("SecurityInfo", "Acknowledged")], sim.errors
    reported = _row(runtime, device_id)
    assert reported.name == sim.facts.device_name and reported.serial_number == sim.facts.serial
    with runtime.db.session() as s, s.begin():
        s.execute(update(EnrolledDevice).where(EnrolledDevice.id == device_id).values(converged_epoch=3,
                                                                                     declarations_epoch=3))
    sim.facts.os_version = "99.1"
    assert sim.enrollment_checkin("Authenticate"), sim.errors  # the profile installed again
    row = _row(runtime, device_id)
    assert (row.name, row.serial_number, row.model) == (reported.name, reported.serial_number, reported.model)
    assert (row.os_version, row.platform, row.cert_fingerprint) == ("99.1", "iOS", reported.cert_fingerprint)
    assert (row.push_token, row.push_magic, row.unlock_token, row.enrolled_at) == (None, None, None, None)
    assert (row.converged_epoch, row.declarations_epoch, row.declarative_management) == (None, None, False)
    assert sim.enrollment_checkin("TokenUpdate"), sim.errors  # and it enrolls again
    assert _row(runtime, device_id).enrolled_at is not None
