"""Schema migrations (alembic) run from code: `upgrade(engine)` brings any database to the head.

The migration scripts live in store/migrations/versions; `miaopi db upgrade` and `miaopi serve` call
this, so no alembic.ini or command line is needed on a production machine.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    """The newest revision shipped with this code."""
    rev = ScriptDirectory.from_config(_config()).get_current_head()
    assert rev is not None
    return rev


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to `revision`. A database whose registry tables were created before
    migrations existed (by `create_schema`) is stamped at the first revision when it matches it.
    At the head, the tables of the registries declared outside the migrations are then created or
    extended from their declarations (store/schema.py), in the same transaction."""
    from store.schema import ensure_registry_tables

    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        names = set(inspect(conn).get_table_names())
        if "alembic_version" not in names and "population" in names and "cases" not in names:
            command.stamp(cfg, "0000")
        command.upgrade(cfg, revision)
        if revision == "head":
            ensure_registry_tables(conn)


def autogenerate(engine: Engine, message: str) -> None:
    """Write a new revision from the difference between the tables in code and the database."""
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database down to `revision` ("base" removes every table: also those of the
    registries whose tables are kept from their declarations rather than by a migration, such as a
    built-in registry declared after migration 0000 or one declared elsewhere)."""
    from engine.registries import REGISTRIES
    from store.tables import TABLES

    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
        if revision == "base":
            left = set(inspect(conn).get_table_names())
            for name in REGISTRIES:
                if name in left:
                    TABLES[name].drop(conn)
