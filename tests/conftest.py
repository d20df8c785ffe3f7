"""Fixtures: an empty registry database on every backend (SQLite file, PostgreSQL schema per test).

PostgreSQL comes from MIAOPI_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/test). When it is
unreachable the PostgreSQL variants are skipped, or fail when the CI environment variable is set.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from engine.registries import REGISTRIES
from store.db import create_engine_for, create_schema, normalise_url

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")


def pg_url() -> str:
    return os.environ.get("MIAOPI_TEST_PG_URL", DEFAULT_PG_URL)


@functools.cache
def pg_problem() -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers."""
    try:
        engine = create_engine(normalise_url(pg_url()), connect_args={"connect_timeout": 5})
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("select 1"))
        finally:
            engine.dispose()
    except Exception as exc:  # any failure to connect means "unavailable"
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return f"PostgreSQL at {pg_url()} is unreachable ({type(exc).__name__}: {detail})"
    return None


def require_pg() -> None:
    problem = pg_problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{problem}; CI is set, so PostgreSQL tests must run")
    pytest.skip(f"{problem}; set MIAOPI_TEST_PG_URL to run the PostgreSQL variants")


@pytest.fixture(autouse=True)
def _registry_catalogue() -> Iterator[None]:
    """Registries a test declares (in-process) are gone after it: the catalogue is process-wide."""
    before = REGISTRIES.snapshot()
    try:
        yield
    finally:
        REGISTRIES.restore(before)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgresql":
        require_pg()
    return name


@pytest.fixture
def engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a fresh database with the registry tables created."""
    if backend == "sqlite":
        eng = create_engine_for(f"sqlite:///{tmp_path / 'registries.db'}")
        create_schema(eng)
        try:
            yield eng
        finally:
            eng.dispose()
        return

    schema = f"test_store_{uuid.uuid4().hex[:12]}"
    admin = create_engine_for(pg_url())
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        eng = create_engine_for(pg_url(), schema=schema)
        try:
            create_schema(eng)
            yield eng
        finally:
            eng.dispose()
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database URL for the CLI on every backend: a SQLite file, or a fresh PostgreSQL schema
    selected through the connection's search_path."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'miaopi.db'}"
        return
    schema = f"test_cli_{uuid.uuid4().hex[:12]}"
    admin = create_engine_for(pg_url())
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in pg_url() else "?"
        yield f"{pg_url()}{sep}options=-csearch_path%3D{schema}"
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()
