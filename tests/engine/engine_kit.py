"""Shared helpers of the engine tests: the pilot programs, valid identifiers, decision invariants.

Not a test module (pytest collects only test_*.py); the test modules import it by name, since pytest
puts this folder on sys.path (the tests folders have no __init__.py).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from stdnum.cn import ric, uscc

from engine.decision import Decision
from engine.expr import add_months
from engine.program import Program, build_program

ROOT = Path(__file__).resolve().parents[2]
RULESETS = ROOT / "rulesets"
CHINA_TZ = timezone(timedelta(hours=8))
UTC = UTC


@functools.cache
def pilot(item: str) -> Program:
    """The compiled pilot ruleset (built from the YAML text, as the CLI does)."""
    path = RULESETS / item / "ruleset.yaml"
    return build_program(path.read_text(encoding="utf-8"), source=str(path))


def make_id(birth: date, seq: int = 1, region: str = "510104") -> str:
    """A resident ID number with a correct check digit (calc_check_digit ignores the 18th char)."""
    body = f"{region}{birth:%Y%m%d}{seq % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def make_credit_code(n: int) -> str:
    """A unified social credit code with a correct check digit."""
    body = f"91510100MA6E{n:04d}X"[:17]
    return body + uscc.calc_check_digit(body)


def years_before(d: date, years: int) -> date:
    """The same calendar day `years` earlier (29 February clamps to the 28th)."""
    return add_months(d, -12 * years)


def at_china(d: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=CHINA_TZ)


def comparable(decision: Decision) -> dict[str, Any]:
    """A decision as compared across evaluators: everything but the timing."""
    data = decision.model_dump()
    data.pop("elapsed_ms")
    return data


MONEY = re.compile(r"-?(0|[1-9][0-9]*)\.[0-9]{2}")


def money_places_ok(text: Any) -> bool:
    """A money output: a decimal string with exactly two places, as docs/architecture.md says."""
    return isinstance(text, str) and MONEY.fullmatch(text) is not None


def assert_invariants(decision: Decision, program: Program) -> None:
    """What must hold of every decision, whatever the case (docs/architecture.md)."""
    rs = program.ruleset
    statuses = {c.id: c.status for c in decision.conditions}
    # every condition of the ruleset appears exactly once, in ruleset order
    assert [c.id for c in decision.conditions] == [c.id for c in rs.conditions]
    # approved ⇔ no reasons (一次性告知: every failure, unknown and missing material is a reason)
    assert (decision.outcome == "approved") == (not decision.reasons), decision.outcome
    if decision.outcome == "approved":
        assert all(s == "pass" for s in statuses.values())
        assert not decision.missing_materials
    # unknown never approves
    if "unknown" in statuses.values():
        assert decision.outcome != "approved"
    # rejected only when a condition that allows refusal failed
    if decision.outcome == "rejected":
        assert any(c.status == "fail" and c.on_fail == "reject" for c in decision.conditions)
    # every failing or unknown condition and every missing material is among the reasons, once
    expected_reasons = [c.id for c in decision.conditions if c.status != "pass"] + [
        f"material.{m.id}" for m in decision.missing_materials
    ]
    assert Counter(r.condition for r in decision.reasons) == Counter(expected_reasons)
    # the outcome follows from the statuses and materials
    failed = {c.on_fail for c in decision.conditions if c.status == "fail"}
    if "reject" in failed:
        assert decision.outcome == "rejected"
    elif decision.missing_materials or "return" in failed:
        assert decision.outcome == "returned"
    elif decision.reasons:
        assert decision.outcome == "review"
    # unknown conditions say what is missing or why they cannot be judged
    for c in decision.conditions:
        if c.status == "unknown":
            assert c.missing or c.note
        else:
            assert not c.missing and c.note is None
        assert set(c.sources) >= set(c.values)
    # money outputs: decimal strings with exactly two places
    for name, out in rs.outputs.items():
        if out.type == "money" and name in decision.outputs:
            assert money_places_ok(decision.outputs[name]), (name, decision.outputs[name])
    assert decision.ruleset.sha256 == program.sha256
