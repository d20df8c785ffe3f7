"""Fact gathering details: a look-up whose key is unknown is not made, whatever the key's shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pytest
from engine_kit import make_id
from test_program import build, replaced

from engine import expr as E
from engine.case import parse_case, validate_form
from engine.facts import gather_facts
from engine.ports import Row

CASE: dict[str, Any] = {
    "item": "test-item",
    "submitted_at": "2026-11-20T10:00:00+08:00",
    "applicant": {"kind": "person", "name": "张三", "id_number": make_id(date(1990, 5, 17))},
    "form": {
        "price_yuan": "100",
        "area_m2": None,
        "spouse_id_number": None,
        "signed_on": "2026-11-01",
        "usage": "residential",
    },
}


class Calls:
    """A RegistryPort that answers nothing and remembers every query."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, dict[str, list[Any]]]] = []

    def find(self, registry: str, match: Mapping[str, Sequence[Any]]) -> list[Row]:
        self.queries.append((registry, {k: list(v) for k, v in match.items()}))
        return []


@pytest.mark.parametrize("key", ["person.id_number", "[person.id_number]", "[person.id_number, 'x']"])
def test_a_look_up_with_an_unknown_key_is_not_made(key: str) -> None:
    """The applicant is not in the population registry, so `person.id_number` is unknown: a look-up
    keyed on it is not made, whether the key is the value alone or inside a list of keys."""
    text = replaced(
        "    one: true\n",
        "    one: true\n"
        "  household:\n"
        "    title: 同户人员\n"
        "    registry: population\n"
        f'    match: {{id_number: "{key}"}}\n',
    )
    program = build(text)
    case = parse_case(CASE)
    registry = Calls()
    facts = gather_facts(
        program, case=case, form=validate_form(program.ruleset, case.form), registry=registry
    )
    assert [name for name, _ in registry.queries] == ["population"]  # the applicant's own look-up
    assert facts.env["person"] == {"found": False}
    assert facts.env["household"] is E.MISSING
    assert facts.sources["household"]["note"] == "查询条件未知，未查询"
