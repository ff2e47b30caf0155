"""The Alembic chain builds the same schema as the models, on SQLite and PostgreSQL."""
from __future__ import annotations

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from espalier.cli import main
from espalier.db import Database
from espalier.models import Base

from testenv import PG_ADMIN_URL


def _assert_matches_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    assert set(Base.metadata.tables) <= set(inspect(db.engine).get_table_names())


def test_upgrade_on_empty_sqlite(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/fresh.db")
    db.upgrade()
    assert db.current_revision() == db.head_revision()
    _assert_matches_models(db)
    db.dispose()


def test_upgrade_on_empty_postgresql():
    name = "espalier_test_migrations"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    db = Database(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        db.upgrade()
        _assert_matches_models(db)
        db.upgrade()  # idempotent
    finally:
        db.dispose()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_cli_setup_flow(tmp_path):
    """init -> db upgrade -> user create -> token create/list/revoke, as the README does it."""
    settings = tmp_path / "settings.json"
    run = CliRunner().invoke
    assert run(main, ["init", str(settings)]).exit_code == 0
    assert oct(settings.stat().st_mode & 0o777) == "0o600"
    args = ["--settings", str(settings)]
    result = run(main, args + ["user", "create", "admin"])
    assert result.exit_code == 2 and "run `espalier db upgrade` first" in result.output
    assert run(main, args + ["db", "upgrade"]).exit_code == 0
    assert run(main, args + ["user", "create", "admin"]).exit_code == 0
    assert run(main, args + ["user", "create", "admin"]).exit_code == 2
    assert run(main, args + ["user", "create", "admin", "--exist-ok"]).exit_code == 0
    result = run(main, args + ["token", "create", "--user", "admin", "--role", "admin", "--quiet"])
    key = result.output.strip()
    assert result.exit_code == 0 and len(key) == 40
    bad = run(main, args + ["token", "create", "--user", "admin", "--permission", "mdm.fly"])
    assert bad.exit_code == 2 and "unknown permission 'mdm.fly'" in bad.output
    assert key[:8] in run(main, args + ["token", "list"]).output
    assert run(main, args + ["token", "revoke", key[:8]]).exit_code == 0
    assert "revoked" in run(main, args + ["token", "list"]).output
    assert run(main, args + ["token", "revoke", key[:8]]).exit_code == 2


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/x.db"])
def test_db_upgrade_reports_revision(tmp_path, url):
    import json

    settings = tmp_path / "s.json"
    settings.write_text(json.dumps({"database_url": url.format(tmp=tmp_path), "secret_keys": ["s" * 40]}))
    result = CliRunner().invoke(main, ["--settings", str(settings), "db", "upgrade"])
    assert result.exit_code == 0 and "database at revision" in result.output


def _v1(box, plaintext: str, context: str) -> str:
    """A value as revision 0002 stored it: bound to its column only."""
    return "v1:" + box.encrypt(plaintext, context).split(":", 1)[1]


def test_0003_rebinds_every_secret_to_its_row(tmp_path):
    import pytest
    from sqlalchemy import text

    from espalier.models import DeviceCommand, EnrolledDevice
    from espalier.pki.secrets import SecretBox

    keys = ["k" * 40]
    box = SecretBox(keys)
    db = Database(f"sqlite:///{tmp_path}/old.db")
    db.upgrade("0002")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO enrolled_devices (id, udid, declarative_management, created_at, updated_at, "
                          "filevault_prk) VALUES (7, 'U-7', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, :prk)"),
                     {"prk": _v1(box, "PRK-OF-7", "enrolled_devices.filevault_prk")})
        conn.execute(text("INSERT INTO device_commands (id, uuid, enrolled_device_id, name, arguments, notnow_count, "
                          "created_at, updated_at) VALUES (1, 'c-1', 7, 'DeviceLock', :a, 0, CURRENT_TIMESTAMP, "
                          "CURRENT_TIMESTAMP)"), {"a": _v1(box, '{"PIN": "123456"}', "device_commands.arguments")})
    with pytest.raises(RuntimeError, match="run `espalier db upgrade`"):
        db.upgrade()
    db.upgrade(secret_keys=keys)
    with db.session() as s:
        device = s.get(EnrolledDevice, 7)
        assert device.filevault_prk.startswith("v2:") and box.open_str(device, "filevault_prk") == "PRK-OF-7"
        command = s.get(DeviceCommand, 1)
        assert box.open_str(command, "arguments") == '{"PIN": "123456"}'
    db.dispose()


def test_key_rotation_rewraps_every_secret(tmp_path):
    """A new key first, `secrets rewrap`, then the old key can go and everything still opens."""
    import json

    from espalier.models import EnrolledDevice, OtaEnrollment
    from espalier.pki.secrets import SecretBox

    old, new = "o" * 40, "n" * 40
    path = tmp_path / "s.json"

    def settings(*keys):
        path.write_text(json.dumps({"database_url": f"sqlite:///{tmp_path}/r.db", "secret_keys": list(keys)}))
        return ["--settings", str(path)]

    run = CliRunner().invoke
    assert run(main, settings(old) + ["db", "upgrade"]).exit_code == 0
    db = Database(f"sqlite:///{tmp_path}/r.db")
    box = SecretBox([old])
    with db.session() as s, s.begin():
        device = EnrolledDevice(udid="U-1")
        s.add(device)
        box.seal(device, "filevault_prk", "PRK-1")
        e = OtaEnrollment(name="E", display_name="E", secret_hash="h")
        s.add(e)
        box.seal(e, "secret", "the-secret")
    result = run(main, settings(new, old) + ["secrets", "rewrap"])
    assert result.exit_code == 0 and result.output.startswith("2 secret(s) re-encrypted"), result.output
    assert "(encrypting key)" in run(main, settings(new, old) + ["secrets", "status"]).output
    only_new = SecretBox([new])
    with db.session() as s:
        assert only_new.open_str(s.get(EnrolledDevice, 1), "filevault_prk") == "PRK-1"
        assert only_new.open_str(s.get(OtaEnrollment, 1), "secret") == "the-secret"
    assert run(main, settings(new, old) + ["secrets", "rewrap"]).output.startswith("0 secret(s)")
    db.dispose()


def _pg_database(name: str) -> str:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_0019_keeps_a_doubly_bound_certificate_on_its_first_device(tmp_path, engine):
    """Devices bound to one certificate by a race (before 0019): the first keeps it, the index is unique."""
    name = "espalier_test_migration_0019"
    db = Database(f"sqlite:///{tmp_path}/old.db" if engine == "sqlite" else _pg_database(name))
    try:
        db.upgrade("0018")
        rows = [("A", "f" * 64), ("B", "f" * 64), ("C", "f" * 64), ("D", "e" * 64), ("E", None)]
        with db.engine.begin() as conn:
            for udid, fingerprint in rows:
                conn.execute(text("INSERT INTO enrolled_devices (udid, cert_fingerprint, declarative_management) "
                                  "VALUES (:u, :f, false)"), {"u": udid, "f": fingerprint})
        db.upgrade()
        with db.engine.connect() as conn:
            bound = dict(conn.execute(text("SELECT udid, cert_fingerprint FROM enrolled_devices")).all())
            assert bound == {"A": "f" * 64, "B": None, "C": None, "D": "e" * 64, "E": None}
            with pytest.raises(IntegrityError):
                conn.execute(text("UPDATE enrolled_devices SET cert_fingerprint = :f WHERE udid = 'E'"),
                             {"f": "e" * 64})
        _assert_matches_models(db)
    finally:
        db.dispose()
        if engine == "postgresql":
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
