"""The alembic migrations build exactly the tables the code declares, on SQLite and PostgreSQL, and take
a database created before migrations existed up to the head."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

import store.records  # noqa: F401  (the service tables on the metadata)
from store import migrate
from store.tables import TABLES, Base


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


def test_head_matches_the_tables_in_code(engine: Engine) -> None:
    # the fixture created the registry tables the old way (create_schema): upgrade stamps and continues
    Base.metadata.drop_all(engine)
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    assert _diff(engine) == []


def test_a_registry_database_from_before_migrations_is_upgraded_in_place(engine: Engine) -> None:
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine, tables=list(TABLES.values()))
    names = set(inspect(engine).get_table_names())
    assert "population" in names and "cases" not in names and "alembic_version" not in names
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    assert {"cases", "decisions", "tasks", "audit_events"} <= set(inspect(engine).get_table_names())
    assert _diff(engine) == []


def test_downgrade_to_base_removes_every_table_and_upgrade_restores_them(engine: Engine) -> None:
    Base.metadata.drop_all(engine)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert _diff(engine) == []


def test_an_audit_trail_from_before_signed_heads_keeps_its_hashes_and_verifies_once_signed(
    engine: Engine,
) -> None:
    from datetime import UTC, datetime

    from store import audit
    from store.db import session_factory
    from store.records import AuditEvent, AuditHead

    Base.metadata.drop_all(engine)
    migrate.upgrade(engine, "0002")
    prev = audit.GENESIS
    at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    with engine.begin() as conn:  # the columns of revision 0002 only
        for seq in (1, 2, 3):
            row = {"actor": "system", "action": "case.submitted", "subject": f"c{seq}", "detail": {"n": seq}}
            digest = audit.chain_hash(prev, seq, at, **row)
            conn.execute(
                AuditEvent.__table__.insert().values(seq=seq, at=at, prev_hash=prev, hash=digest, **row)
            )
            prev = digest
        conn.execute(AuditHead.__table__.insert().values(id=1, seq=3, hash=prev))

    migrate.upgrade(engine)
    key = b"the deployment's audit key, long enough"
    sessions = session_factory(engine)
    with sessions() as session:
        assert audit.verify(session, key=key, signed_head=False).ok  # the old hashes hold
        report = audit.verify(session, key=key)
    assert not report.ok and report.problem and "链尾（第 3 条）没有签名" in report.problem
    with sessions.begin() as session:
        assert audit.sign_head(session, key=key, checkpoint_file=None).ok
    with sessions() as session:
        report = audit.verify(session, key=key)
    assert report.ok and report.events == 3


def test_the_ratings_revision_adds_its_table_and_is_reversible(engine: Engine) -> None:
    Base.metadata.drop_all(engine)
    migrate.upgrade(engine, "0005")
    assert "ratings" in inspect(engine).get_table_names()
    columns = {c["name"] for c in inspect(engine).get_columns("ratings")}
    assert columns == {
        "id", "case_id", "item", "department", "rated_by", "score", "comment", "rated_at", "follow_up_task"
    }  # fmt: skip
    migrate.downgrade(engine, "0004")
    assert migrate.current(engine) == "0004"
    names = set(inspect(engine).get_table_names())
    assert "ratings" not in names and {"cases", "tasks", "users"} <= names
    migrate.upgrade(engine)
    assert "ratings" in inspect(engine).get_table_names()
    assert _diff(engine) == []
