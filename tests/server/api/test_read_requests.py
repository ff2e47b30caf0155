"""The API's GETs read outside a transaction on PostgreSQL (autocommit, as Django's default
under Zentral: no BEGIN or COMMIT round trip, no SQLAlchemy transaction to commit) and inside
one on SQLite; what a GET writes (a token's last use) is kept on both."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select

from espalier.models import ApiToken


@pytest.fixture
def settings(both_databases):
    return both_databases


def test_a_get_reads_without_a_transaction_on_postgresql_and_keeps_its_write(runtime, client, make_token):
    headers = make_token("mdm.view_enrolleddevice")
    commits = []

    def committed(conn):
        commits.append(conn)

    engines = {runtime.db.engine, runtime.db.read_engine}
    for engine in engines:
        event.listen(engine, "commit", committed)
    try:
        assert client.get("/api/mdm/devices/", headers=headers).status_code == 200
    finally:
        for engine in engines:
            event.remove(engine, "commit", committed)
    assert len(commits) == (1 if runtime.db.is_sqlite else 0)
    with runtime.db.session() as s:  # the token's first use, written by the GET
        assert s.scalar(select(ApiToken.last_used_at)) is not None


def test_reads_are_autocommit_and_writes_one_transaction(runtime):
    with runtime.db.reading() as s:
        driver = s.connection().connection.driver_connection
        assert (driver.autocommit is True) if not runtime.db.is_sqlite else driver.in_transaction
    with runtime.db.session() as s, s.begin():
        driver = s.connection().connection.driver_connection
        assert (driver.autocommit is False) if not runtime.db.is_sqlite else driver.in_transaction
