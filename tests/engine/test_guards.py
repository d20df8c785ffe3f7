"""The guards of the decision: the credit blacklist never lets an approval through, whatever the ruleset
says; a guard only ever makes an outcome stricter, and it is consulted only for the outcomes it
looks at (the registry is not queried otherwise, so recorded facts and replays stay as they were)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest
from engine_kit import pilot
from test_durable_state import APPLICANT, NOW, REGISTRY, deed_case

from engine.case import Case
from engine.decision import Decision, decide, decide_gathered, decide_many
from engine.errors import EngineFault
from engine.evaluate import DurableEvaluator, ReferenceEvaluator
from engine.facts import Facts, gather_facts
from engine.guards import GUARDS, BlacklistGuard, Verdict, apply_guards
from engine.ports import InMemoryRegistry, Row

MESSAGE = "申请人列入信用黑名单（联合惩戒对象），不适用自动审批，转人工审核"
SUBMITTED_ON = date(2026, 11, 21)  # deed_case: 2026-11-21T10:00:00+08:00


class CountingRegistry:
    """The deed-tax test registry plus credit records, keeping every query made."""

    def __init__(self, credit: Sequence[Row] = ()) -> None:
        self.inner = InMemoryRegistry({"credit_records": list(credit)})
        self.queries: list[str] = []

    def find(self, registry: str, match: Mapping[str, Sequence[Any]]) -> list[Row]:
        self.queries.append(registry)
        if registry == "credit_records":
            return self.inner.find(registry, match)
        return REGISTRY.find(registry, match)


def record(kind: str, listed: date | None, lifted: date | None, subject: str = APPLICANT) -> Row:
    return {"subject_id": subject, "kind": kind, "reason": "测试", "listed_on": listed, "lifted_on": lifted}


def decide_with(credit: Sequence[Row], case: Case | None = None) -> tuple[Decision, CountingRegistry]:
    registry = CountingRegistry(credit)
    decision = decide(
        pilot("deed-tax"),
        case=case or deed_case(0),
        registry=registry,
        evaluator=DurableEvaluator(),
        now=NOW,
    )
    return decision, registry


def guard_reasons(decision: Decision) -> list[dict[str, Any]]:
    return [r.model_dump() for r in decision.reasons if r.condition == "credit_blacklist"]


def test_the_case_is_approved_without_a_blacklist_record() -> None:
    decision, registry = decide_with([])
    assert decision.outcome == "approved"
    assert decision.reasons == []
    assert registry.queries.count("credit_records") == 1


def test_a_listed_applicant_is_sent_to_review_with_the_reason() -> None:
    decision, _ = decide_with([record("blacklist", date(2026, 3, 1), None)])
    assert decision.outcome == "review"
    assert all(c.status == "pass" for c in decision.conditions)  # the ruleset itself approves
    assert guard_reasons(decision) == [
        {"condition": "credit_blacklist", "status": "fail", "message": MESSAGE, "basis": None}
    ]
    assert decision.reasons[-1].model_fields_set == {"condition", "status", "message"}


def test_listed_on_the_submission_day_counts() -> None:
    decision, _ = decide_with([record("blacklist", SUBMITTED_ON, None)])
    assert decision.outcome == "review"


def test_an_undated_listing_counts() -> None:
    decision, _ = decide_with([record("blacklist", None, None)])
    assert decision.outcome == "review"


@pytest.mark.parametrize(
    "lifted", [date(2026, 9, 1), SUBMITTED_ON], ids=["lifted-before", "lifted-on-submission-day"]
)
def test_a_listing_lifted_by_the_submission_date_does_not_count(lifted: date) -> None:
    decision, registry = decide_with([record("blacklist", date(2025, 3, 1), lifted)])
    assert decision.outcome == "approved"
    assert guard_reasons(decision) == []
    assert "credit_records" in registry.queries


def test_a_listing_lifted_after_the_submission_still_counts() -> None:
    decision, _ = decide_with([record("blacklist", date(2025, 3, 1), date(2026, 11, 22))])
    assert decision.outcome == "review"


def test_a_listing_after_the_submission_does_not_count() -> None:
    decision, _ = decide_with([record("blacklist", date(2026, 11, 22), None)])
    assert decision.outcome == "approved"
    assert guard_reasons(decision) == []


def test_other_records_and_other_subjects_do_not_count() -> None:
    other = "91510100MA6E0001XY"
    decision, _ = decide_with(
        [
            record("penalty", date(2026, 1, 1), None),
            record("bad_record", date(2026, 1, 1), None),
            record("blacklist", date(2026, 1, 1), None, subject=other),
        ]
    )
    assert decision.outcome == "approved"


def test_the_submission_date_is_taken_in_china_time() -> None:
    # 2026-11-20T20:00Z is already 21 November in China: a listing of the 21st counts
    late = deed_case(0).model_copy(update={"submitted_at": datetime(2026, 11, 20, 20, 0, tzinfo=UTC)})
    decision, _ = decide_with([record("blacklist", SUBMITTED_ON, None)], late)
    assert decision.outcome == "review"
    decision, _ = decide_with([record("blacklist", date(2026, 11, 22), None)], late)
    assert decision.outcome == "approved"


def test_no_look_up_when_the_outcome_is_already_review() -> None:
    case = deed_case(2)  # the applicant's name differs from the population record: a review
    decision, registry = decide_with([record("blacklist", date(2026, 1, 1), None)], case)
    assert decision.outcome == "review"
    assert "credit_records" not in registry.queries
    assert guard_reasons(decision) == []


def test_no_look_up_when_the_outcome_is_returned_or_rejected() -> None:
    case = deed_case(0).model_copy(update={"commitments": []})  # a missing commitment: returned
    decision, registry = decide_with([record("blacklist", date(2026, 1, 1), None)], case)
    assert decision.outcome == "returned"
    assert "credit_records" not in registry.queries


def test_both_evaluators_and_the_batch_paths_apply_the_guard() -> None:
    program = pilot("deed-tax")
    listed = [record("blacklist", date(2026, 3, 1), None)]
    cases = [deed_case(i) for i in range(8)]
    for evaluator in (DurableEvaluator(), ReferenceEvaluator()):
        single = [
            decide(program, case=c, registry=CountingRegistry(listed), evaluator=evaluator, now=NOW)
            for c in cases
        ]
        many = decide_many(
            program, cases=cases, registry=CountingRegistry(listed), evaluator=evaluator, now=NOW
        )
        registry = CountingRegistry(listed)
        gathered = [
            (c, gather_facts(program, case=c, form=_form(program, c), registry=registry)) for c in cases
        ]
        together = decide_gathered(program, items=gathered, evaluator=evaluator, now=NOW)
        for batch in (many, together):
            assert [d.model_dump(exclude={"elapsed_ms"}) for d in batch] == [
                d.model_dump(exclude={"elapsed_ms"}) for d in single
            ]
        guarded = [d for d in single if guard_reasons(d)]
        assert guarded and all(d.outcome == "review" for d in guarded)
        assert "approved" not in {d.outcome for d in single}


def _form(program: Any, case: Case) -> dict[str, Any]:
    from engine.case import validate_form

    return validate_form(program.ruleset, case.form)


def test_facts_without_a_registry_cannot_be_approved() -> None:
    program = pilot("deed-tax")
    case = deed_case(0)
    facts = gather_facts(program, case=case, form=_form(program, case), registry=CountingRegistry())
    bare = Facts(env=facts.env, sources=facts.sources, problems=facts.problems)
    with pytest.raises(EngineFault):
        decide_gathered(program, items=[(case, bare)], evaluator=ReferenceEvaluator(), now=NOW)


class _Lenient:
    """A faulty guard: it tries to turn a review into an approval."""

    applies_to = frozenset({"review"})

    def check(self, case: Case, registry: Any) -> Verdict | None:
        return Verdict("approved", "lenient", "放行")


def test_a_guard_cannot_make_an_outcome_more_lenient() -> None:
    with pytest.raises(EngineFault):
        apply_guards([_Lenient()], "review", case=deed_case(0), registry=CountingRegistry())


def test_guards_are_consulted_only_for_the_outcomes_they_look_at() -> None:
    registry = CountingRegistry([record("blacklist", date(2026, 1, 1), None)])
    for outcome in ("review", "returned", "rejected"):
        assert apply_guards(GUARDS, outcome, case=deed_case(0), registry=registry) == (outcome, [])
    assert registry.queries == []
    assert apply_guards([BlacklistGuard()], "approved", case=deed_case(0), registry=registry) == (
        "review",
        [Verdict("review", "credit_blacklist", MESSAGE)],
    )
    assert registry.queries == ["credit_records"]


class _Replaying:
    """Answers only the queries recorded from another registry (as a replay of recorded facts)."""

    def __init__(self, answers: dict[str, list[Row]]) -> None:
        self.answers = answers

    def find(self, registry: str, match: Mapping[str, Sequence[Any]]) -> list[Row]:
        key = repr((registry, sorted((k, list(v)) for k, v in match.items())))
        if key not in self.answers:
            raise LookupError(key)
        return self.answers[key]


class _Recording(CountingRegistry):
    def __init__(self, credit: Sequence[Row] = ()) -> None:
        super().__init__(credit)
        self.answers: dict[str, list[Row]] = {}

    def find(self, registry: str, match: Mapping[str, Sequence[Any]]) -> list[Row]:
        rows = super().find(registry, match)
        self.answers[repr((registry, sorted((k, list(v)) for k, v in match.items())))] = rows
        return rows


@pytest.mark.parametrize("listed", [True, False], ids=["listed", "not-listed"])
@pytest.mark.parametrize("variant", [0, 2], ids=["approved-by-the-ruleset", "review-by-the-ruleset"])
def test_a_decision_replays_from_the_queries_it_recorded(listed: bool, variant: int) -> None:
    program, case = pilot("deed-tax"), deed_case(variant)
    recording = _Recording([record("blacklist", date(2026, 1, 1), None)] if listed else [])
    first = decide(program, case=case, registry=recording, evaluator=DurableEvaluator(), now=NOW)
    again = decide(
        program, case=case, registry=_Replaying(recording.answers), evaluator=DurableEvaluator(), now=NOW
    )
    assert again.to_json_dict() == first.to_json_dict()
    assert (first.outcome == "review" and bool(guard_reasons(first))) == (listed and variant == 0)
