"""Engines, schema creation and sessions for SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from store.tables import Base

SQLITE_BEGIN = "miaopi_sqlite_begin"
"""Execution option naming the BEGIN variant for SQLite transactions (`DEFERRED` or `IMMEDIATE`)."""

SQLITE_BUSY_TIMEOUT_S = 30.0
"""How long a SQLite connection waits for another connection's write lock before it fails with
"database is locked". SQLite has one writer at a time: under a burst every write queues for the lock,
and the driver's default (5 s) turned that queue into 500s (500 concurrent submissions: 4 failed). As
long as the API's connection-pool timeout: a request that waits, waits for one reason at a time."""

_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def normalise_url(url: str | URL) -> URL:
    """The URL SQLAlchemy should connect with: plain PostgreSQL URLs use the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_engine_for(url: str, *, schema: str | None = None, echo: bool = False) -> Engine:
    """An Engine for `url` (`sqlite:///file.db`, `postgresql://user@host/db`, ...).

    SQLite connections get WAL journalling and foreign keys, may be shared across threads, wait up to
    SQLITE_BUSY_TIMEOUT_S for the write lock, and begin real transactions (pysqlite's own implicit
    transaction handling is switched off). `schema` selects a PostgreSQL schema through the
    connection's search_path (the schema must exist).
    """
    parsed = normalise_url(url)
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        if schema is not None:
            raise ValueError("SQLite databases have no schemas; `schema` is for PostgreSQL")
        connect_args["check_same_thread"] = False
        connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_S
    elif schema is not None:
        if backend != "postgresql":
            raise ValueError(f"`schema` is supported for PostgreSQL only, not {backend}")
        if not _SCHEMA_NAME.match(schema):
            raise ValueError(f"schema name must be a plain identifier, got {schema!r}")
        connect_args["options"] = f"-c search_path={schema}"
    engine = create_engine(parsed, connect_args=connect_args, echo=echo)
    if backend == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see the "begin" hook below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = str(conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")).upper()
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"unknown SQLite BEGIN mode {mode!r}")
        conn.exec_driver_sql(f"BEGIN {mode}")


def create_schema(engine: Engine) -> None:
    """Create the tables that do not exist yet (idempotent), the tables of every registry in the
    catalogue included (store/schema.py)."""
    from store.schema import ensure_registry_tables

    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        ensure_registry_tables(conn)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to `engine`; objects stay usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)
