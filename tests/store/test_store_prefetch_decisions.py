"""Decisions over the SQL registry with the look-ups read ahead (SqlRegistry.prefetch) against the same
decisions asking each look-up on its own: every sample case of both items gives the same decision and
the same recorded queries and rows, in the same order, with fewer statements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from engine.backends.reference import ReferenceEvaluator
from engine.decision import decide, decide_many
from engine.ports import Row
from service.cases import read_case_file
from service.records import RecordingRegistry
from service.rulesets import load_program
from store.loader import load_directory
from store.registry import SqlRegistry

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 22, tzinfo=UTC)
ITEMS = ("deed-tax", "safety-permit-renewal")


class _OneByOne:
    """The SQL registry without reading ahead: each look-up its own statement."""

    def __init__(self, inner: SqlRegistry) -> None:
        self.inner = inner

    def find(self, registry: str, match: Mapping[str, Sequence[Any]]) -> list[Row]:
        return self.inner.find(registry, match)


@pytest.fixture
def sql(engine: Engine) -> SqlRegistry:
    load_directory(engine, ROOT / "samples" / "shared-data")
    return SqlRegistry(engine)


@pytest.mark.parametrize("item", ITEMS)
def test_every_sample_case_decides_and_records_alike(sql: SqlRegistry, engine: Engine, item: str) -> None:
    program = load_program(ROOT / "rulesets" / item)
    cases = [read_case_file(p)[0] for p in sorted((ROOT / "samples" / item / "cases").glob("*.json"))]
    assert cases
    count = {"n": 0}

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            count["n"] += 1

    event.listen(engine, "before_cursor_execute", seen)
    evaluator = ReferenceEvaluator()
    one_by_one = 0
    ahead = 0
    for case in cases:
        plain = RecordingRegistry(_OneByOne(sql))
        count["n"] = 0
        with sql.reading():
            want = decide(program, case=case, registry=plain, evaluator=evaluator, now=NOW)
        one_by_one += count["n"]
        read_ahead = RecordingRegistry(sql)
        count["n"] = 0
        with sql.reading():
            got = decide(program, case=case, registry=read_ahead, evaluator=evaluator, now=NOW)
        ahead += count["n"]
        assert got == want, case.case_id
        assert list(read_ahead.calls.items()) == list(plain.calls.items()), case.case_id
        assert read_ahead.records() == plain.records(), case.case_id
    assert ahead < one_by_one

    # a batch: one statement per round for all its cases, the same decisions
    count["n"] = 0
    with sql.reading():
        batch = decide_many(program, cases=cases, registry=sql, evaluator=evaluator, now=NOW)
    rounds = count["n"]
    with sql.reading():
        single = [
            decide(program, case=c, registry=_OneByOne(sql), evaluator=evaluator, now=NOW) for c in cases
        ]
    assert batch == single
    assert rounds <= len(program.steps) + 1
