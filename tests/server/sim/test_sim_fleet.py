"""A fleet of simulated devices and the `espalier simulate` command, against the fake server."""
from __future__ import annotations

import functools
import json

import pytest
from click.testing import CliRunner

from espalier.cli import simulate as simulate_cli
from espalier.sim.fleet import Fleet
from sim_fakes import BASE, SECRET, FakeMDM


def test_fleet_enrolls_a_mix_and_runs_connect_rounds(fake_mdm: FakeMDM):
    with Fleet(BASE, SECRET, 10, "mixed", client=fake_mdm.client(), workers=4) as fleet:
        assert fleet.enroll_all() == 10
        for device in fleet.devices:
            fake_mdm.queue(device.facts.udid, "DeviceInformation", Queries=["UDID"])
        fleet.connect_all(rounds=2)
        summary = fleet.summary()
    assert {d.facts.model for d in fleet.devices} == {"Mac14,2", "MacBookPro16,1", "MacBookPro14,1",
                                                       "iPhone15,2", "iPad13,1"}
    assert summary["enrolled"] == 10 and summary["failed"] == 0 and summary["errors"] == {}
    assert summary["connects"] == 20 and summary["commands"] == {"Acknowledged": 10}
    assert summary["request_types"] == {"DeviceInformation": 10}
    assert summary["enrollments_per_s"] > 0 and summary["connects_per_s"] > 0
    assert set(summary["enroll_seconds"]) == {"p50", "p95", "max", "mean"}


def test_push_callback_makes_the_pushed_device_connect(fake_mdm: FakeMDM):
    with Fleet(BASE, SECRET, 3, "iphone", client=fake_mdm.client(), workers=2) as fleet:
        fleet.enroll_all()
        target = fleet.devices[1]
        fake_mdm.queue(target.facts.udid, "SecurityInfo")
        fleet.push_callback(target.push_token_hex.upper(), target.push_magic)
        fleet.push_callback("00" * 32, "nobody")
        fleet.push_callback(target.push_token_hex, "wrong magic")
        assert fleet.wait_for_pushes(10)
    assert [c.request_type for c in target.commands] == ["SecurityInfo"]
    assert fleet.connects == 1 and fleet.unknown_pushes == 2


def test_keys_made_ahead_are_the_keys_the_devices_enroll_with(fake_mdm: FakeMDM):
    with Fleet(BASE, SECRET, 2, "mac", client=fake_mdm.client()) as fleet:
        assert fleet.make_keys_ahead(2048) > 0
        spares = [d.spare_key for d in fleet.devices]
        assert fleet.enroll_all() == 2
    assert [d.identity_key for d in fleet.devices] == spares
    assert all(d.spare_key is None for d in fleet.devices)


def test_failed_enrollments_are_counted_with_their_reason(fake_mdm: FakeMDM):
    with Fleet(BASE, "wrong-secret", 2, "mac", client=fake_mdm.client()) as fleet:
        assert fleet.enroll_all() == 0
        fleet.connect_all()
        summary = fleet.summary()
    assert summary["failed"] == 2 and summary["connects"] == 0
    assert summary["errors"] == {"enrollment profile: HTTP 404": 2}


def test_unknown_flavour_is_refused():
    with pytest.raises(ValueError, match="unknown flavours"):
        Fleet(BASE, SECRET, 1, ["mac", "toaster"])


@pytest.fixture
def cli_on_fake(monkeypatch, fake_mdm: FakeMDM) -> FakeMDM:
    monkeypatch.setattr(simulate_cli, "Fleet", functools.partial(Fleet, client=fake_mdm.client()))
    return fake_mdm


def test_simulate_command_prints_a_summary(cli_on_fake: FakeMDM):
    result = CliRunner().invoke(simulate_cli.simulate, [
        "--url", BASE, "--enrollment", SECRET, "--devices", "3", "--connects", "2", "--platform", "ipad",
        "--signature"])
    assert result.exit_code == 0, result.output
    assert "3 enrolled, 0 failed" in result.output and "6 sessions" in result.output
    assert all("Mdm-Signature" in h for h in cli_on_fake.headers)


def test_simulate_command_json_output_and_failure_status(cli_on_fake: FakeMDM):
    result = CliRunner().invoke(simulate_cli.simulate, [
        "--url", BASE, "--enrollment", f"{BASE}/public/enroll/nope/", "--devices", "2", "--json", "--mtls"])
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["failed"] == 2 and summary["enrolled"] == 0
