"""The embedded default: Automated Device Enrollment end to end on SQLite (the same tests as on PostgreSQL)."""
from __future__ import annotations

import pytest
from test_e2e_ade import (  # noqa: F401  (the fixtures and tests run again on SQLite)
    ade, mdm_settings, test_a_wiped_mac_enrolls_again_and_its_old_certificate_is_refused,
    test_an_ade_mac_enrolls_gets_its_blueprint_then_its_admin_then_device_configured)


@pytest.fixture
def settings(mdm_settings, settings_factory, tmp_path):  # noqa: F811
    from espalier.db import Database

    settings = settings_factory(f"sqlite:///{tmp_path}/espalier.db", **mdm_settings)
    db = Database(settings["database_url"])
    db.upgrade(secret_keys=settings["secret_keys"])
    db.dispose()
    return settings
