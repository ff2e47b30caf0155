"""The embedded default: DDM declarations and OS update enforcements end to end on SQLite
(the same tests as on PostgreSQL)."""
from __future__ import annotations

import pytest
from test_e2e_declarations import (  # noqa: F401  (the fixtures and tests run again on SQLite)
    setup, test_a_device_syncs_the_declaration_and_the_api_shows_it_installed,
    test_a_rejected_declaration_shows_failed_with_its_reason, test_changing_the_declaration_resyncs_exactly_once)
from test_e2e_enforcement import (  # noqa: F401
    enforced, test_a_blueprint_enforcement_reaches_the_mac_and_leaves_once_it_is_installed)


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
