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


def test_case_rounds_keep_existing_decisions_as_round_one_and_downgrade_keeps_the_first_round(
    engine: Engine,
) -> None:
    """Revision 0006: a case's decisions, tasks and extractions per round. Rows from before it are round 1;
    a second round of a case is allowed after it; going back down keeps each case's first round only."""
    from datetime import UTC, datetime

    import pytest
    from sqlalchemy import select, text
    from sqlalchemy.exc import IntegrityError

    from store.records import CaseRow, DecisionRow, User

    Base.metadata.drop_all(engine)
    migrate.upgrade(engine, "0004")
    at = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    decision = {"item": "deed-tax", "ruleset_version": "1", "ruleset_sha256": "0" * 64, "facts": {}}
    with engine.begin() as conn:  # the columns of revision 0004: no round anywhere
        conn.execute(
            User.__table__.insert().values(
                id="yu", display_name="余娜雪", role="applicant", token_sha256="t" * 64, created_at=at
            )
        )
        conn.execute(
            text(
                "INSERT INTO cases (id, item, department, submitted_by, payload, payload_sha256, status,"
                " outcome, attempts, commitment, received_at)"
                " VALUES ('c1', 'deed-tax', 'd', 'yu', '{}', 's', 'decided', 'returned', 1, false, :at)"
            ),
            {"at": at.replace(tzinfo=None)},
        )
        conn.execute(
            text(
                "INSERT INTO decisions (case_id, item, ruleset_version, ruleset_sha256, outcome, facts,"
                " decision, decided_at, elapsed_ms)"
                " VALUES ('c1', 'deed-tax', '1', :sha, 'returned', '{}', '{}', :at, 1.0)"
            ),
            {"sha": "0" * 64, "at": at.replace(tzinfo=None)},
        )
    migrate.upgrade(engine)
    assert _diff(engine) == []
    with engine.begin() as conn:
        assert conn.execute(select(CaseRow.__table__.c.round)).scalar_one() == 1
        assert conn.execute(select(DecisionRow.__table__.c.round)).scalar_one() == 1
        conn.execute(
            DecisionRow.__table__.insert(),
            [
                {
                    "case_id": "c1",
                    "round": 2,
                    "outcome": "approved",
                    "decision": {},
                    "decided_at": at,
                    **decision,
                }
            ],
        )
    with pytest.raises(IntegrityError), engine.begin() as conn:  # still one decision per case and round
        conn.execute(
            DecisionRow.__table__.insert(),
            [
                {
                    "case_id": "c1",
                    "round": 2,
                    "outcome": "approved",
                    "decision": {},
                    "decided_at": at,
                    **decision,
                }
            ],
        )
    migrate.downgrade(engine, "0004")
    columns = {c["name"] for c in inspect(engine).get_columns("decisions")}
    assert "round" not in columns
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM decisions")).scalar_one() == 1
    migrate.upgrade(engine)
    assert _diff(engine) == []
