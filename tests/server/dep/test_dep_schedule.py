"""The beat runs the ADE sync every abm.sync_minutes and the token expiry check daily."""
from __future__ import annotations

import pytest

from espalier.settings import SettingsError
from espalier.tasks import dep
from espalier.tasks.periodic import default_schedule


def test_the_schedule_has_the_sync_at_the_configured_period(pg_url, settings_factory):
    make_settings = settings_factory
    settings = make_settings(pg_url, abm={"sync_minutes": 7})
    periods = {e.func: e.seconds for e in default_schedule(settings.mdm["sweeps"], abm_settings=settings.mdm["abm"])}
    assert periods[dep.sync_all_virtual_servers] == 7 * 60
    assert periods[dep.check_dep_tokens] == 86400
    assert make_settings(pg_url).mdm["abm"]["base_url"] == "https://mdmenrollment.apple.com"


def test_bad_abm_settings_are_one_line(pg_url, settings_factory):
    make_settings = settings_factory
    with pytest.raises(SettingsError, match="abm.sync_minutes: must be greater than 0"):
        make_settings(pg_url, abm={"sync_minutes": 0})
    with pytest.raises(SettingsError, match="abm.base_url: must start with https or http"):
        make_settings(pg_url, abm={"base_url": "ftp://x"})
