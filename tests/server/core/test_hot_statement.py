"""HotStatement: the driver-cursor path on PostgreSQL fails as SQLAlchemy's execution does."""
from __future__ import annotations

import pytest
from sqlalchemy import bindparam, column, select, text
from sqlalchemy.exc import DBAPIError, OperationalError, StatementError

from espalier.db import Database, HotStatement


@pytest.fixture
def db(pg_url):
    database = Database(pg_url)
    yield database
    database.dispose()


def test_rows_carry_the_column_names_and_the_statement_literals_are_bound(db):
    stmt = HotStatement(select(bindparam("n").label("n"), (column("x") == "lit").label("same"))
                        .select_from(text("(SELECT 'lit' AS x) AS t")))
    with db.session() as s, s.begin():
        row = stmt.one_or_none(s, {"n": 7})
    assert (row.n, row.same) == (7, True)


def test_a_driver_error_is_sqlalchemys_and_the_transaction_rolls_back(db):
    stmt = HotStatement(select((bindparam("n") / 0).label("q")))
    with pytest.raises(DBAPIError, match="division by zero"):
        with db.session() as s, s.begin():
            stmt.one_or_none(s, {"n": 1})
    with db.session() as s, s.begin():
        assert s.scalar(text("SELECT 1")) == 1


def test_a_lost_server_connection_is_an_operational_error_and_is_not_reused(db):
    """What the 503 guard needs: OperationalError with the connection invalidated, and the
    pool hands out a live connection next."""
    import psycopg
    from testenv import PG_ADMIN_URL

    stmt = HotStatement(select(bindparam("n").label("n")))
    with pytest.raises(OperationalError) as caught:
        with db.session() as s, s.begin():
            pid = s.scalar(text("SELECT pg_backend_pid()"))
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            stmt.one_or_none(s, {"n": 1})
    assert caught.value.connection_invalidated
    with db.session() as s, s.begin():
        assert stmt.one_or_none(s, {"n": 2}).n == 2
        assert s.scalar(text("SELECT pg_backend_pid()")) != pid


def test_a_column_whose_type_processes_results_is_refused(db):
    """The driver's values are returned as they are, so a type that changes them is refused."""
    from sqlalchemy import String, literal
    from sqlalchemy.types import TypeDecorator

    class Upper(TypeDecorator):
        impl, cache_ok = String, True

        def process_result_value(self, value, dialect):
            return value.upper()

    with db.session() as s, s.begin():
        with pytest.raises(TypeError, match="'shouted'"):
            HotStatement(select(literal("x", Upper()).label("shouted"))).all(s, {})


def _table():
    from sqlalchemy import JSON, Boolean, Column, DateTime, Integer, MetaData, String, Table

    from espalier.models import utcnow

    return Table("hot_probe", MetaData(), Column("id", Integer, primary_key=True), Column("name", String(16)),
                 Column("flag", Boolean), Column("doc", JSON), Column("created_at", DateTime, default=utcnow))


@pytest.fixture(params=["postgresql", "sqlite"])
def any_db(request, pg_url, tmp_path):
    database = Database(pg_url if request.param == "postgresql" else f"sqlite:///{tmp_path}/hot.db")
    table = _table()
    table.create(database.engine)
    yield database, table
    table.drop(database.engine)
    database.dispose()


def test_execute_writes_and_counts_with_the_types_bind_processing(any_db):
    """An INSERT and an UPDATE without RETURNING; JSON serialised and Boolean coerced as
    SQLAlchemy's execution does, on either database."""
    from datetime import datetime

    from sqlalchemy import insert, update

    db, t = any_db
    add = HotStatement(insert(t).inline().values(name=bindparam("name"), flag=bindparam("flag"),
                                                 doc=bindparam("doc"), created_at=bindparam("now")))
    rename = HotStatement(update(t).where(t.c.flag.is_(True)).values(name=bindparam("new")))
    with db.session() as s, s.begin():
        assert add.execute(s, {"name": "a", "flag": 1, "doc": {"k": [1, 2]}, "now": datetime(2026, 1, 2)}) == 1
        assert add.execute(s, {"name": "b", "flag": False, "doc": None, "now": datetime(2026, 1, 2)}) == 1
        assert rename.execute(s, {"new": "c"}) == 1
    with db.session() as s:
        rows = s.execute(select(t.c.name, t.c.flag, t.c.doc).order_by(t.c.id)).all()
    assert [tuple(r) for r in rows] == [("c", True, {"k": [1, 2]}), ("b", False, None)]
    with pytest.raises(StatementError, match="Not a boolean"), db.session() as s, s.begin():  # Boolean's check
        add.execute(s, {"name": "x", "flag": "yes", "doc": None, "now": datetime(2026, 1, 2)})


def test_a_column_default_left_to_sqlalchemy_is_refused(db):
    """The driver path computes no default: an INSERT must bind its timestamps itself."""
    from sqlalchemy import insert

    t = _table()
    with db.session() as s, s.begin():
        with pytest.raises(TypeError, match="created_at"):
            HotStatement(insert(t).values(name=bindparam("name"))).execute(s, {"name": "x"})


def test_the_driver_cursor_is_made_once_per_connection_and_survives_an_error(db):
    """Statements on one pooled connection share its cursor (a new one per statement cost a
    third of a small statement's client CPU); an error leaves it usable, and another
    connection has its own."""
    import psycopg

    made = []

    class Counted(psycopg.Cursor):
        def __init__(self, *args, **kwargs):
            made.append(self)
            super().__init__(*args, **kwargs)

    stmt = HotStatement(select(bindparam("n").label("n")))
    failing = HotStatement(select((bindparam("n") / 0).label("q")))
    with db.session() as s, s.begin():
        s.connection().connection.dbapi_connection.cursor_factory = Counted
        assert [stmt.one_or_none(s, {"n": n}).n for n in range(3)] == [0, 1, 2]
    with pytest.raises(DBAPIError, match="division by zero"):
        with db.session() as s, s.begin():
            failing.one_or_none(s, {"n": 1})
    with db.session() as s, s.begin():  # the pool's one idle connection again
        assert stmt.one_or_none(s, {"n": 3}).n == 3
        with db.session() as other, other.begin():  # a second connection: its own cursor
            assert stmt.one_or_none(other, {"n": 4}).n == 4
            assert other.connection().connection.dbapi_connection is not s.connection().connection.dbapi_connection
    assert len(made) == 1 and not made[0].closed
