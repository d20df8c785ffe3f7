"""The reference backend: conditions evaluated over their expression trees in plain Python. It is the
oracle the differential tests compare the production backend with, so it admits exactly the values
production can compare (the same pre-check encoder)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine import expr as E
from engine.backends.durable import ENCODER

if TYPE_CHECKING:
    from engine.facts import Facts
    from engine.precheck import Checked, Status
    from engine.program import Program


class ReferenceEvaluator:
    """Plain Python over the expression tree: the oracle in tests."""

    encoder = ENCODER

    def evaluate(self, program: Program, facts: Facts, checked: list[Checked]) -> list[Status]:
        out: list[Status] = []
        for cc, ck in zip(program.conditions, checked, strict=True):
            if not ck.evaluable:
                out.append("unknown")
                continue
            v = E.evaluate(cc.ast, facts.env)
            out.append("unknown" if v is E.MISSING else ("pass" if v is True else "fail"))
        return out

    def evaluate_many(
        self, program: Program, items: Sequence[tuple[Facts, list[Checked]]]
    ) -> list[list[Status]]:
        return [self.evaluate(program, facts, checked) for facts, checked in items]
