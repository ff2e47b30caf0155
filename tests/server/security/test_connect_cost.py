"""What the FileVault and recovery password steps cost a converged Mac's Idle connect: the
blueprint read once (its configurations joined), nothing more when there is nothing to do."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("with_configs", [True, False], ids=["both-configs", "no-configs"])
def test_a_converged_mac_pays_the_blueprint_read_only(enrolled, configs, counted, with_configs):
    configs(**({"filevault": {"prk_rotation_interval_days": 30}, "recovery": {"rotation_interval_days": 30}}
               if with_configs else {}))
    sim, _ = enrolled("mac")
    sim.connect()
    assert sim.connect() == [], sim.errors
    with counted() as window:
        assert sim.connect() == []
    # the session UPDATE and its work, the blueprint with its configurations (read once, shared by
    # the steps); convergence marked the converged Mac with the epoch on its last Idle, so it reads nothing
    seen = window["statements"]
    assert [s.split()[0] for s in seen] == ["UPDATE", "SELECT", "SELECT"], seen
    assert len([s for s in seen if "filevault_configs" in s and "recovery_password_configs" in s]) == 1, seen
