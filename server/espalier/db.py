"""Engine and sessions. SQLite is the embedded default; PostgreSQL in production.

Callers own transactions: ``with db.session() as s, s.begin(): ...`` in a view, job or
CLI command; ``mdm/`` and ``services/`` take ``s`` and never commit.
"""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, InterfaceError, MultipleResultsFound, OperationalError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")


class NotMigrated(Exception):
    """The database schema is not at the current migration head."""


def unavailable(exc: BaseException) -> bool:
    """The database could not do the work now (unreachable, no pooled connection, a lock or
    serialization timeout): a retry later may succeed; not a fault of the request."""
    if isinstance(exc, (PoolTimeout, OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def normalize_url(url: str) -> str:
    # psycopg 3 is the driver we ship; accept the plain postgresql:// form operators write.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Database:
    def __init__(self, url: str, **engine_kwargs):
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            self._prepare_sqlite_path()
            engine_kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        else:
            # No pre-ping (a round trip on every checkout); recycle instead, and SQLAlchemy
            # invalidates the pool when a statement finds the server gone.
            engine_kwargs.setdefault("pool_recycle", 1800)
            engine_kwargs.setdefault("pool_size", 10)
            engine_kwargs.setdefault("max_overflow", 20)
        self.engine: Engine = create_engine(self.url, **engine_kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin_immediate)
        self.session = sessionmaker(self.engine, expire_on_commit=False)
        # For requests that only read (the API's GETs): the same use, with no BEGIN and COMMIT
        # round trips; each statement sees the database as of itself, as under Django's default
        # autocommit that Zentral runs with. SQLite keeps its transactions (they cost no trip).
        self.read_engine = self.engine if self.is_sqlite else create_engine(
            self.url, **{**engine_kwargs, "isolation_level": "AUTOCOMMIT", "skip_autocommit_rollback": True})
        self.read_session = sessionmaker(self.read_engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction, committed at the end (rolled back on an exception)."""
        with self.session() as s, s.begin():
            yield s

    def reading(self):
        """A session for a request that only reads: ``read_session`` without ``begin()`` on
        PostgreSQL (in autocommit there is nothing to begin or commit, and SQLAlchemy's
        transaction bookkeeping was a tenth of a device lookup); a transaction on SQLite."""
        return self.transaction() if self.is_sqlite else self.read_session()

    def _prepare_sqlite_path(self) -> None:
        path = self.url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)

    def alembic_config(self, secret_keys: list[str] | None = None) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["engine"] = self.engine
        cfg.attributes["secret_keys"] = secret_keys  # for migrations that re-encrypt stored secrets
        return cfg

    def upgrade(self, revision: str = "head", *, secret_keys: list[str] | None = None) -> None:
        command.upgrade(self.alembic_config(secret_keys), revision)

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self.alembic_config()).get_current_head()

    def check_migrated(self) -> None:
        current, head = self.current_revision(), self.head_revision()
        if current != head:
            state = "not initialised" if current is None else f"at revision {current}, expected {head}"
            raise NotMigrated(f"the database is {state}: run `espalier db upgrade` first")

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()


class HotStatement:
    """A Core statement for a hot path (device connects, device lookups), run on PostgreSQL
    straight on the driver's cursor of the session's connection: compiled once, no cache key,
    no result metadata (a third of a connect's CPU went to SQLAlchemy's and psycopg's
    per-statement machinery). Only for columns without result processing (no SecretText,
    no TypeDecorator): the driver's values are returned as they are.
    Parameters pass through their types' bind processors (a Boolean is checked, JSON
    serialised) as SQLAlchemy's would, but column defaults are not applied: an INSERT or
    UPDATE binds its timestamps itself.
    Rows have the statement's column names as attributes. On other databases (SQLite, the
    embedded default) it runs through SQLAlchemy, whose type processing they need.

    Driver errors surface as SQLAlchemy's (``DBAPIError``), and a lost server invalidates
    the connection, as SQLAlchemy's own execution does.
    """

    observers: list[Callable[[str, dict], None]] = []  # each statement sent and its parameters (tests, bench)

    def __init__(self, statement) -> None:
        self.statement = statement
        self._row = namedtuple("Row", list(statement.exported_columns.keys()))
        self._make_row = partial(tuple.__new__, self._row)  # as _make, less its Python frame per row
        self._compiled: dict[str, tuple[str, dict[str, Any], dict[str, Callable]]] = {}

    def one_or_none(self, s: Session, params: dict[str, Any]):
        rows = self._run(s, params, one=True)
        return rows[0] if rows else None

    def all(self, s: Session, params: dict[str, Any]) -> list:
        return self._run(s, params, one=False)

    def execute(self, s: Session, params: dict[str, Any]) -> int:
        """An INSERT, UPDATE or DELETE without RETURNING: the number of rows it changed."""
        conn = s.connection()
        if conn.dialect.name != "postgresql":
            return conn.execute(self.statement, params).rowcount
        return self._on_cursor(conn, params, lambda cursor: cursor.rowcount)

    def _run(self, s: Session, params: dict[str, Any], *, one: bool) -> list:
        conn = s.connection()
        if conn.dialect.name != "postgresql":
            result = conn.execute(self.statement, params)
            row = result.one_or_none() if one else None
            return ([row] if row is not None else []) if one else result.all()
        rows = self._on_cursor(conn, params, lambda cursor: cursor.fetchmany(2) if one else cursor.fetchall())
        if one and len(rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return list(map(self._make_row, rows))

    def _on_cursor(self, conn, params: dict[str, Any], read: Callable):
        sql, constants, processors = self._compiled.get("postgresql") or self._compile(conn.dialect)
        args = {**constants, **params}
        try:
            for name, process in processors.items():
                if name in args:
                    args[name] = process(args[name])
        except Exception as exc:  # as SQLAlchemy's execution reports a value its type refuses
            raise StatementError(str(exc), sql, args, exc) from exc
        for observe in self.observers:
            observe(sql, args)
        dbapi_conn = conn.connection.dbapi_connection
        try:
            cursor = _cursor(conn.connection.info, dbapi_conn)
            cursor.execute(sql, args)
            return read(cursor)
        except conn.dialect.loaded_dbapi.Error as exc:
            lost = conn.dialect.is_disconnect(exc, dbapi_conn, None)
            if lost:
                conn.invalidate(exc)
            raise DBAPIError.instance(sql, args, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect,
                                      connection_invalidated=lost) from exc

    def _compile(self, dialect) -> tuple[str, dict[str, Any], dict[str, Callable]]:
        for column in self.statement.exported_columns:
            if column.type.dialect_impl(dialect).result_processor(dialect, None) is not None:
                raise TypeError(f"HotStatement cannot return {column.key!r}: its type processes results")
        compiled = self.statement.compile(dialect=dialect)
        defaulted = [column.key for column in (*compiled.insert_prefetch, *compiled.update_prefetch)]
        if defaulted:  # SQLAlchemy computes these for each execution; the driver would get nothing
            raise TypeError(f"HotStatement cannot default {', '.join(defaulted)}: bind them in the statement")
        processors = {name: process for bind, name in compiled.bind_names.items()
                      if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None}
        # the statement's own literals (bound by SQLAlchemy as parameters); callers bind the rest
        constants = {k: v for k, v in compiled.params.items() if v is not None}
        self._compiled[dialect.name] = (compiled.string, constants, processors)
        return self._compiled[dialect.name]


def _cursor(info: dict, dbapi_conn):
    """The driver cursor HotStatements run on for this pooled connection, made once: creating
    a psycopg cursor cost a third of the client's CPU for a small statement. ``info`` lives as
    long as the driver connection (SQLAlchemy clears it when the connection is replaced); a
    pooled connection serves one thread at a time and each statement is read before the next."""
    cursor = info.get("espalier.cursor")
    if cursor is None or cursor.closed or cursor.connection is not dbapi_conn:
        cursor = info["espalier.cursor"] = dbapi_conn.cursor()
    return cursor


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # Let pysqlite stop managing transactions; we issue BEGIN IMMEDIATE ourselves so
    # concurrent writers queue on the database lock instead of failing mid-transaction.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin_immediate(conn) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


__all__ = ["Database", "HotStatement", "NotMigrated", "Session", "normalize_url"]
