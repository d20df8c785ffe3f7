"""Guards: checks the engine makes after a case's conditions, whatever the ruleset says. A guard can
only make an outcome stricter (an approval becomes a review, never the other way), and it always
says why, as a reason of the decision.

A guard names the outcomes it looks at (`applies_to`): it is consulted only when the outcome is one
of them, so a registry it reads is queried only then (it may say beforehand what it would ask,
`queries`, so that a registry port can read it with the case's look-ups; asking stays the guard's
own). The blacklist guard is the one built in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from engine.case import Case
from engine.errors import EngineFault
from engine.ports import Query, RegistryPort

Outcome = Literal["approved", "review", "returned", "rejected"]
STRICTNESS: dict[str, int] = {"approved": 0, "review": 1, "returned": 2, "rejected": 3}
"""The outcomes from the most lenient to the strictest."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a guard found: the stricter outcome, and the reason the decision gives for it."""

    outcome: Outcome
    condition: str
    message: str


class Guard(Protocol):
    applies_to: frozenset[str]
    """The outcomes this guard looks at."""

    def check(self, case: Case, registry: RegistryPort) -> Verdict | None:
        """The verdict for this case, or None when the guard has nothing against the outcome."""
        ...


class BlacklistGuard:
    """An applicant on the credit blacklist (联合惩戒对象) never gets an automatic approval: a
    `blacklist` record of `credit_records` for the applicant's credit code (or identity number),
    listed on or before the submission date in China time and not lifted by then, turns an
    approval into a review."""

    applies_to = frozenset({"approved"})
    condition = "credit_blacklist"
    message = "申请人列入信用黑名单（联合惩戒对象），不适用自动审批，转人工审核"

    def queries(self, case: Case) -> list[Query]:
        """What `check` asks the registries for this case."""
        subject = case.applicant.credit_code or case.applicant.id_number
        return [("credit_records", {"subject_id": [subject]})] if subject else []

    def check(self, case: Case, registry: RegistryPort) -> Verdict | None:
        subject = case.applicant.credit_code or case.applicant.id_number
        if not subject:
            return None
        on = case.submitted_on
        for row in registry.find("credit_records", {"subject_id": [subject]}):
            if row.get("kind") != "blacklist":
                continue
            listed, lifted = row.get("listed_on"), row.get("lifted_on")
            if (listed is None or listed <= on) and (lifted is None or lifted > on):
                return Verdict("review", self.condition, self.message)
        return None


GUARDS: tuple[Guard, ...] = (BlacklistGuard(),)
"""The guards every decision goes through, in order."""


def guard_queries(guards: Sequence[Guard], case: Case) -> list[Query]:
    """The queries the guards may ask for a case (those that say so), for reading ahead."""
    out: list[Query] = []
    for guard in guards:
        queries = getattr(guard, "queries", None)
        if queries is not None:
            out.extend(queries(case))
    return out


def apply_guards(
    guards: Sequence[Guard], outcome: Outcome, *, case: Case, registry: RegistryPort | None
) -> tuple[Outcome, list[Verdict]]:
    """The outcome after the guards, with the verdicts that changed it (in the guards' order).
    A guard is consulted only when the outcome reached so far is one it looks at; a verdict that
    would not make the outcome stricter is an error of the guard."""
    verdicts: list[Verdict] = []
    for guard in guards:
        if outcome not in guard.applies_to:
            continue
        if registry is None:
            raise EngineFault("决定缺少共享数据库接口，无法完成自动审批前的核查")
        verdict = guard.check(case, registry)
        if verdict is None:
            continue
        if STRICTNESS[verdict.outcome] <= STRICTNESS[outcome]:
            raise EngineFault(f"核查 {verdict.condition} 只能使结论更严格（{outcome} → {verdict.outcome}）")
        outcome = verdict.outcome
        verdicts.append(verdict)
    return outcome, verdicts
