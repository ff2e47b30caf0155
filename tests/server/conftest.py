"""Fixtures following the seams: settings -> runtime -> app -> client, on real PostgreSQL.

Tests run against a dedicated PostgreSQL database (created and migrated once per run)
and Redis database 15. Each test ends by truncating every table, which (unlike a
rolled back outer transaction) also holds for tests whose work runs in other threads
or processes: live servers, in-process job threads, concurrent connects.
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import event, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (fakes)
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/server (shared fixtures: e2e, testenv)

from espalier import runtime as runtime_mod  # noqa: E402
from espalier.app import create_app  # noqa: E402
from espalier.db import Database, HotStatement  # noqa: E402
from espalier.models import Base, EnrolledDevice  # noqa: E402
from espalier.services import auth  # noqa: E402
from espalier.settings import from_mapping  # noqa: E402
from espalier.tasks.queue import InProcessTaskQueue  # noqa: E402
from testenv import PG_ADMIN_URL  # noqa: E402

SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"

# The end-to-end fixtures (push certificate, enrollment, simulated devices, fake APNs).
pytest_plugins = ["e2e"]


@pytest.fixture(scope="session")
def pg_url():
    """A database of this test run's own (several runs may share the server)."""
    name = f"espalier_test_{os.getpid()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    db = Database(url)
    db.upgrade(secret_keys=[SECRET])
    db.dispose()
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_settings(database_url: str, **mdm) -> "Settings":  # noqa: F821
    return from_mapping({
        "base_url": "https://mdm.example.test",
        "database_url": database_url,
        "secret_keys": [SECRET],
        "log_level": "WARNING",
        "apps": {"espalier.mdm": mdm},
    })


# The built-in CA survives between tests (as in production, it is made once and cached).
KEEP = {"certificate_authorities", "convergence_epoch"}  # kept rows: the CA, the epoch counter


def truncate_all(db: Database) -> None:
    tables = [t for t in Base.metadata.sorted_tables if t.name not in KEEP]
    names = ", ".join(f'"{t.name}"' for t in tables)
    with db.engine.begin() as conn:
        if db.is_sqlite:
            for t in reversed(tables):
                conn.execute(t.delete())
        else:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def settings_factory():
    return make_settings


@pytest.fixture
def mdm_settings() -> dict:
    """Override in a test module to change apps['espalier.mdm']."""
    return {}


@pytest.fixture
def settings(pg_url, mdm_settings):
    return make_settings(pg_url, **mdm_settings)


@pytest.fixture
def sqlite_settings(tmp_path):
    """sqlite_settings(**mdm) -> settings of a migrated SQLite database of this test's own."""
    def factory(**mdm):
        settings = make_settings(f"sqlite:///{tmp_path}/espalier.db", **mdm)
        db = Database(settings["database_url"])
        db.upgrade(secret_keys=settings["secret_keys"])
        db.dispose()
        return settings
    return factory


@pytest.fixture(params=[True, False], ids=["mtls-proxy", "mdm-signature"])
def both_identity_modes(request) -> dict:
    """apps['espalier.mdm'] with the mTLS proxy headers, then with Mdm-Signature: a module whose
    ``mdm_settings`` fixture returns this runs each test in both identity modes."""
    return {"mtls_proxy": request.param}


@pytest.fixture(params=["postgresql", "sqlite"])
def both_databases(request, pg_url, mdm_settings, settings_factory, sqlite_settings):
    """Settings on PostgreSQL, then on SQLite: a module whose ``settings`` fixture returns this
    runs each test on both (PostgreSQL runs the hot statements on the driver's cursor)."""
    if request.param == "postgresql":
        return settings_factory(pg_url, **mdm_settings)
    return sqlite_settings(**mdm_settings)


class TestQueue(InProcessTaskQueue):
    """Runs jobs inline; push jobs only when a test asks (``push_enabled``), else records them."""

    def __init__(self):
        super().__init__(sync=True)
        self.push_enabled = False
        self.skipped_pushes: list[tuple] = []
        self.delayed: list[tuple] = []

    def submit_in(self, delay, job):
        self.delayed.append((delay, job))
        if job.queue == "push" and self.push_enabled:
            super().submit_in(delay, job)

    def submit(self, job):
        if job.queue == "push" and not self.push_enabled:
            self.skipped_pushes.append(job.args)
            return
        super().submit(job)


@pytest.fixture
def runtime(settings):
    rt = runtime_mod.build(settings, queue=TestQueue())
    yield rt
    truncate_all(rt.db)
    rt.close()


@pytest.fixture
def app(runtime):
    app = create_app(runtime.settings, runtime=runtime)
    app.testing = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(runtime):
    return runtime.db


@pytest.fixture
def counted(runtime):
    """counted() -> context manager yielding {"statements": [...], "commits": n, "rollbacks": n}:
    what the runtime's engine ran in its window (the hot statements on the driver's cursor too)."""
    @contextlib.contextmanager
    def window():
        seen = {"statements": [], "commits": 0, "rollbacks": 0}

        def statement(conn, cursor, sql, *args):
            if not sql.startswith("BEGIN"):  # SQLite's explicit BEGIN IMMEDIATE: the transaction, counted below
                seen["statements"].append(" ".join(sql.split()))

        def commit(conn):
            seen["commits"] += 1

        def rollback(conn):
            seen["rollbacks"] += 1

        listeners = [("before_cursor_execute", statement), ("commit", commit), ("rollback", rollback)]
        for name, fn in listeners:
            event.listen(runtime.db.engine, name, fn)
        HotStatement.observers.append(hot := lambda sql, _params: statement(None, None, sql))
        try:
            yield seen
        finally:
            HotStatement.observers.remove(hot)
            for name, fn in listeners:
                event.remove(runtime.db.engine, name, fn)
    return window


@pytest.fixture
def settings_file(runtime, tmp_path) -> str:
    """The runtime's settings as a file, for the ``espalier`` command line."""
    import json

    path = tmp_path / "settings.json"
    path.write_text(json.dumps(runtime.settings.data))
    return str(path)


@pytest.fixture
def make_token(runtime):
    """make_token(*permissions, role=None) -> Authorization headers."""
    counter = iter(range(10**6))

    def factory(*permissions: str, role: str | None = None) -> dict:
        with runtime.db.session() as s, s.begin():
            name = f"user{next(counter)}"
            auth.create_user(s, name)
            _, key = auth.create_token(s, name, list(permissions), [role] if role else [])
        return {"Authorization": f"Token {key}"}
    return factory


@pytest.fixture
def admin(make_token):
    return make_token(role="admin")


@pytest.fixture
def make_device(runtime):
    counter = iter(range(1, 10**6))

    def factory(**fields) -> EnrolledDevice:
        n = next(counter)
        values = dict(udid=f"0000{n:04d}-0000-4000-8000-{n:012d}", serial_number=f"C02TEST{n:05d}",
                      name=f"Test Mac {n}", model="Macmini9,1", platform="macOS", os_version="14.2.1",
                      build_version="23C71", apple_silicon=True)
        values.update(fields)
        with runtime.db.session() as s, s.begin():
            device = EnrolledDevice(**values)
            s.add(device)
        return device
    return factory
