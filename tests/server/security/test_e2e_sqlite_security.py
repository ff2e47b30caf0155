"""The embedded default: FileVault escrow, rotation and recovery passwords end to end on
SQLite (the same tests as on PostgreSQL)."""
from __future__ import annotations

import pytest
from test_e2e_filevault_recovery import (  # noqa: F401  (the fixtures and tests run again on SQLite)
    blueprint, test_apple_silicon_mac_prk_escrowed_revealed_rotated_and_recovery_lock,
    test_intel_mac_firmware_password_applies_after_the_restart)


@pytest.fixture
def settings(mdm_settings, settings_factory, tmp_path):
    from espalier.db import Database

    settings = settings_factory(f"sqlite:///{tmp_path}/espalier.db", **mdm_settings)
    db = Database(settings["database_url"])
    db.upgrade(secret_keys=settings["secret_keys"])
    db.dispose()
    return settings
