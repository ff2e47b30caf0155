"""The embedded default: profiles delivered by DDM end to end on SQLite (the same tests as on PostgreSQL)."""
from __future__ import annotations

import pytest
from test_e2e_legacy_profiles import (  # noqa: F401  (the fixtures and tests run again on SQLite)
    setup, test_a_ddm_device_gets_its_profile_as_a_legacy_declaration, test_flipping_the_flag_hands_profiles_over_both_ways)


@pytest.fixture
def mdm_settings():
    return {"mtls_proxy": True}


@pytest.fixture
def settings(mdm_settings, settings_factory, tmp_path):
    from espalier.db import Database

    settings = settings_factory(f"sqlite:///{tmp_path}/espalier.db", **mdm_settings)
    db = Database(settings["database_url"])
    db.upgrade(secret_keys=settings["secret_keys"])
    db.dispose()
    return settings
