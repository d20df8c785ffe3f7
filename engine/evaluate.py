"""Condition evaluation: the interface the rest of the engine uses. The production backend is
durable_rules (engine.backends.durable); the plain-Python reference backend
(engine.backends.reference) is the oracle the property tests compare it with. Both start from the
same pre-check (engine.precheck), which settles every condition whose inputs are missing or ill-typed
as `unknown`; here it admits the values the production backend can compare."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from engine import precheck, specialised
from engine.backends.durable import (
    BATCH,
    ENCODER,
    DurableEvaluator,
    _fired_by,
    encode_fact,
    encode_value,
    resolve_statuses,
)
from engine.backends.reference import ReferenceEvaluator
from engine.facts import Facts
from engine.precheck import Checked, Encoder, Status
from engine.program import CompiledCondition, Program


def check_condition(cc: CompiledCondition, env: dict[str, Any]) -> Checked:
    """Resolve a condition's inputs and settle whether it can be evaluated (types, encodability)."""
    return precheck.check_condition(cc, env, ENCODER)


def check_all(program: Program, facts: Facts) -> list[Checked]:
    """The pre-check of every condition of a case, in order."""
    return precheck.check_all(program, facts, ENCODER)


def check_all_specialised(program: Program, facts: Facts) -> list[Checked]:
    """`check_all` through the program's specialised pre-check (engine.specialised): the same."""
    return specialised.check_all(program, facts, ENCODER)


class Evaluator(Protocol):
    def evaluate(self, program: Program, facts: Facts, checked: list[Checked]) -> list[Status]: ...

    def evaluate_many(
        self, program: Program, items: Sequence[tuple[Facts, list[Checked]]]
    ) -> list[list[Status]]:
        """The statuses of many cases at once, in order: the same as `evaluate` on each."""
        ...


__all__ = [
    "BATCH",
    "Checked",
    "DurableEvaluator",
    "Encoder",
    "Evaluator",
    "ReferenceEvaluator",
    "Status",
    "_fired_by",
    "check_all",
    "check_all_specialised",
    "check_condition",
    "encode_fact",
    "encode_value",
    "resolve_statuses",
]
