"""What the FileVault and recovery password steps cost a converged Mac's Idle connect: no
statement when there is nothing to do (the blueprint and its configurations come from the
process's copy of the convergence epoch, mdm/blueprint_cache.py)."""
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
    # the session UPDATE and its work; the blueprint with its configurations is the process's copy
    # of the epoch that work read (its last Idle read it), and convergence marked the Mac then
    seen = window["statements"]
    assert [s.split()[0] for s in seen] == ["UPDATE", "SELECT"], seen
