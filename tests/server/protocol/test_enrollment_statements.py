"""An enrollment's check-ins, counted: a regression that adds a query to Authenticate fails here.

Authenticate of a new device asks its certificate's origin, whether the device is blocked and
whether the certificate is bound to another device in one statement, then locks the device row
(none yet), inserts it and ties the session to it.
"""
from __future__ import annotations

import pytest

from espalier.sim.device import SimulatedDevice


@pytest.fixture
def mdm_settings(both_identity_modes):
    return both_identity_modes


@pytest.fixture
def settings(both_databases):
    return both_databases


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
