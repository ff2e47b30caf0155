"""The embedded default: convergence end to end on SQLite (the same tests as on PostgreSQL)."""
from __future__ import annotations

import pytest
from test_e2e_convergence import (  # noqa: F401  (the fixtures and tests run again on SQLite)
    setup, test_a_device_gets_the_profile_then_the_new_version, test_profile_list_reconciles)


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
