"""store.db: URLs, SQLite connection settings, schema creation, sessions, exact decimals."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, inspect, select, text
from store_testdata import credit_code

from store.db import (
    SQLITE_BEGIN,
    SQLITE_BUSY_TIMEOUT_S,
    create_engine_for,
    create_schema,
    normalise_url,
    session_factory,
)
from store.tables import TABLES


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_normalise_url(url: str, driver: str) -> None:
    parsed = normalise_url(url)
    assert parsed.drivername == driver
    if "p@" in url:
        assert parsed.password == "p"


def test_postgres_engine_uses_psycopg3() -> None:
    engine = create_engine_for("postgresql://nobody@127.0.0.1:1/none")  # no connection is made
    assert engine.dialect.driver == "psycopg"


def test_schema_argument_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        create_engine_for(f"sqlite:///{tmp_path / 'x.db'}", schema="s")
    with pytest.raises(ValueError):
        create_engine_for("postgresql://u@h/db", schema="bad; drop table x")


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    errors: list[BaseException] = []

    def use_in_thread() -> None:
        try:
            with engine.connect() as conn:
                conn.execute(text("select 1"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=use_in_thread)
    thread.start()
    thread.join()
    assert errors == []
    engine.dispose()


def test_a_sqlite_write_waits_for_a_write_lock_held_longer_than_the_drivers_default(tmp_path: Path) -> None:
    """One writer at a time: a write that finds the lock taken queues for it (a burst of 500
    submissions used to get 500s once a wait passed the driver's default of 5 s)."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    holder, waiter = create_engine_for(url), create_engine_for(url)
    create_schema(holder)
    with waiter.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_S * 1000
    held = threading.Event()

    def hold_the_lock() -> None:
        with holder.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"}).begin() as conn:
            conn.execute(text("insert into kinship (parent_id_number, child_id_number) values ('a', 'b')"))
            held.set()
            time.sleep(6)  # longer than the driver's default wait

    thread = threading.Thread(target=hold_the_lock)
    thread.start()
    try:
        assert held.wait(10)
        with waiter.begin() as conn:
            conn.execute(text("insert into kinship (parent_id_number, child_id_number) values ('c', 'd')"))
    finally:
        thread.join()
    with waiter.connect() as conn:
        assert conn.execute(text("select count(*) from kinship")).scalar() == 2
    holder.dispose()
    waiter.dispose()


def test_sqlite_transactions_roll_back(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'x.db'}")
    create_schema(engine)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(text("insert into kinship (parent_id_number, child_id_number) values ('a', 'b')"))
        raise RuntimeError
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from kinship")).scalar() == 0
    engine.dispose()


def test_create_schema_is_idempotent(engine: Engine) -> None:
    create_schema(engine)
    create_schema(engine)
    assert "population" in inspect(engine).get_table_names()


def test_session_factory_and_exact_decimals(engine: Engine) -> None:
    code = credit_code(7)
    capital = Decimal("12345678901234.5678")  # 18 significant digits: more than a float holds
    enterprises = TABLES["enterprises"]
    sessions = session_factory(engine)
    with sessions.begin() as session:
        session.execute(
            insert(enterprises).values(
                credit_code=code, name="某公司", status="active", registered_capital_yuan=capital
            )
        )
    with sessions() as session:
        found = session.execute(
            select(enterprises).where(enterprises.c.registered_capital_yuan == capital)
        ).one()
        assert found.credit_code == code
        assert found.registered_capital_yuan == capital
        assert isinstance(found.registered_capital_yuan, Decimal)
        assert str(found.registered_capital_yuan) == "12345678901234.5678"
        assert found.legal_rep_id_number is None
