"""The production evaluator's hold on durable_rules: no session state left behind per case (the 1025th
leaked session raises MemoryError), no background dispatch timers, one caller at a time."""

from __future__ import annotations

import gc
import threading
import time
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import durable.engine as de
import pytest
from engine_kit import CHINA_TZ, comparable, make_id, pilot

from engine.case import Case
from engine.decision import Decision, decide, decide_many
from engine.errors import CaseError
from engine.evaluate import BATCH, DurableEvaluator, ReferenceEvaluator, _fired_by
from engine.ports import InMemoryRegistry
from engine.program import build_program

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=CHINA_TZ)
APPLICANT = make_id(date(1985, 2, 3), 22)
FILING = "WQ20261010001"
REGISTRY = InMemoryRegistry(
    {
        "population": [
            {
                "id_number": APPLICANT,
                "name": "张伟",
                "gender": "男",
                "birth_date": date(1985, 2, 3),
                "status": "normal",
            }
        ],
        "contract_filings": [
            {
                "filing_no": FILING,
                "buyer_id_number": APPLICANT,
                "seller_name": "成都西岭置地有限公司",
                "address": "成都市天府新区麓山大道二段275号",
                "area_m2": Decimal("96.30"),
                "price_yuan": Decimal("1580000.00"),
                "signed_on": date(2026, 10, 8),
                "usage": "residential",
            }
        ],
    }
)


def deed_case(i: int) -> Case:
    """Case i of a cycle that takes every rule path: all pass (`ok`), failures (`f…`), unknowns (`u`)."""
    variant = i % 4
    return Case.model_validate(
        {
            "item": "deed-tax",
            "case_id": f"dt-{i}",
            "submitted_at": "2026-11-21T10:00:00+08:00",
            "applicant": {
                "kind": "person",
                "name": "张伟" if variant != 2 else "张薇",
                "id_number": APPLICANT,
            },
            "form": {
                "house_address": "成都市天府新区麓山大道二段275号",
                "area_m2": "96.30",
                "price_yuan": "1580000.00" if variant != 1 else f"{1580000 + i}.00",
                "usage": "residential",
                "contract_signed_on": "2026-10-08",
                "contract_filing_no": FILING if variant != 3 else None,
                "spouse_id_number": None,
                "declared_family_houses": 0 if variant != 1 else 2,
            },
            "commitments": ["family_housing_truthful"],
        }
    )


EXPECTED_OUTCOME = {0: "approved", 1: "review", 2: "review", 3: "returned"}


def durable_timers() -> list[threading.Timer]:
    """Live timer threads started by durable_rules' Host (its dispatch loop)."""
    return [
        t
        for t in threading.enumerate()
        if isinstance(t, threading.Timer) and getattr(t.function, "__module__", "").startswith("durable")
    ]


def test_thousands_of_cases_in_a_row_leave_no_session_state() -> None:
    program = pilot("deed-tax")
    evaluator = DurableEvaluator()
    outcomes: Counter[str] = Counter()
    for i in range(3000):
        case = deed_case(i)
        decision = decide(program, case=case, registry=REGISTRY, evaluator=evaluator, now=NOW)
        assert decision.outcome == EXPECTED_OUTCOME[i % 4], (i, [r.message for r in decision.reasons])
        outcomes[decision.outcome] += 1
        if i % 97 == 0:
            reference = decide(program, case=case, registry=REGISTRY, evaluator=ReferenceEvaluator(), now=NOW)
            assert comparable(decision) == comparable(reference)
    assert outcomes == {"approved": 750, "review": 1500, "returned": 750}


class _QuietHost(de.Host):
    """A durable Host without dispatch timers whose actions do nothing (for the control below)."""

    def _run(self) -> None:
        return None

    def get_action(self, action_name: str) -> Any:
        def action(_closure: Any) -> None:
            return None

        return action


def test_the_session_limit_the_previous_test_relies_on_is_real() -> None:
    """Control: sessions that are not deleted run out at the 1025th (a MemoryError)."""
    host = _QuietHost()
    host.register_rulesets({"state-leak-control": {"s": {"all": [{"m": {"_t": "c"}}], "run": "s"}}})
    created: list[str] = []
    try:
        with pytest.raises(MemoryError):
            for i in range(1, 1100):
                host.assert_fact("state-leak-control", {"_t": "c", "sid": f"leak-{i}"})
                created.append(f"leak-{i}")
    finally:
        for sid in created:
            host.delete_state("state-leak-control", sid)
    assert len(created) == 1024


def test_no_dispatch_timers_are_started() -> None:
    threads_before = {t.ident for t in threading.enumerate()}
    program = pilot("safety-permit-renewal")
    evaluator = DurableEvaluator()
    evaluator.register(program)
    decide(pilot("deed-tax"), case=deed_case(0), registry=REGISTRY, evaluator=evaluator, now=NOW)
    decide_many(
        pilot("deed-tax"),
        cases=[deed_case(i) for i in range(4)],
        registry=REGISTRY,
        evaluator=evaluator,
        now=NOW,
    )
    time.sleep(0.3)  # durable's Host would have started its timers 0.1 s after construction
    assert durable_timers() == []
    assert {t.ident for t in threading.enumerate()} <= threads_before


def test_the_timer_check_would_see_a_plain_host() -> None:
    """Control: a plain durable Host starts two dispatch timers, which `durable_timers` finds."""
    host = de.Host()
    try:
        assert len(durable_timers()) >= 2
    finally:
        deadline = time.monotonic() + 5
        while durable_timers() and time.monotonic() < deadline:
            for attr in ("_d_timer", "_t_timer"):
                getattr(host, attr).cancel()
            time.sleep(0.05)
    assert durable_timers() == []


def test_concurrent_callers_are_serialised() -> None:
    """durable_rules crashes when two threads post to one host; the evaluator's lock must prevent it."""
    program = pilot("deed-tax")
    evaluator = DurableEvaluator()
    expected = {
        i: decide(program, case=deed_case(i), registry=REGISTRY, evaluator=evaluator, now=NOW)
        for i in range(8)
    }
    errors: list[BaseException] = []
    mismatches: list[int] = []

    def work(offset: int) -> None:
        try:
            for n in range(150):
                i = (offset + n) % 8
                got = decide(program, case=deed_case(i), registry=REGISTRY, evaluator=evaluator, now=NOW)
                if comparable(got) != comparable(expected[i]):
                    mismatches.append(i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and mismatches == []


def disjunctive_ruleset(conditions: int, alternatives: int) -> str:
    ors = " or ".join(f"form.a >= {j}" for j in range(alternatives))  # all hold when a is large
    rows = "".join(
        f'  - {{id: c{i}, title: 条件{i}, when: "{ors}", on_fail: review, basis: b}}\n'
        for i in range(conditions)
    )
    return (
        'ruleset: 1\nversion: "1"\n'
        "item: {id: dnf, code: DNF, name: 测试, department: 测试, kind: 即办件, time_limit_days: 1,\n"
        "       applicant_kind: person, result: 结果, basis: [测试依据]}\n"
        "fields: {a: {type: decimal, title: a}}\n"
        f"conditions:\n{rows}"
    )


def test_conditions_with_alternatives_do_not_explode() -> None:
    program = build_program(disjunctive_ruleset(8, 4), source="dnf.yaml")
    evaluator = DurableEvaluator()
    evaluator.register(program)
    case = Case.model_validate(
        {
            "item": "dnf",
            "submitted_at": "2026-11-21T10:00:00+08:00",
            "applicant": {"kind": "person", "name": "张伟", "id_number": APPLICANT},
            "form": {"a": "3"},
        }
    )
    start = time.perf_counter()
    decision = decide(program, case=case, registry=InMemoryRegistry(), evaluator=evaluator, now=NOW)
    elapsed = time.perf_counter() - start
    assert decision.outcome == "approved"
    assert elapsed < 0.25, f"{elapsed:.2f} s for one case"


def test_decide_many_gives_the_decisions_of_decide_one_by_one() -> None:
    program = pilot("deed-tax")
    cases = [deed_case(i) for i in range(12)]
    for evaluator in (DurableEvaluator(), ReferenceEvaluator()):
        batch = decide_many(program, cases=cases, registry=REGISTRY, evaluator=evaluator, now=NOW)
        single = [decide(program, case=c, registry=REGISTRY, evaluator=evaluator, now=NOW) for c in cases]
        assert [comparable(d) for d in batch] == [comparable(d) for d in single]
        assert [d.outcome for d in batch] == [EXPECTED_OUTCOME[i % 4] for i in range(12)]


def test_batches_longer_than_one_session_take_every_rule_path() -> None:
    """More cases than one session holds, mixing clean (`ok`), failing (`f…`) and unknown (`u`)
    facts: the statuses are those of the reference, case by case."""
    program = pilot("deed-tax")
    cases = [deed_case(i) for i in range(BATCH * 2 + 7)]
    many = decide_many(program, cases=cases, registry=REGISTRY, evaluator=DurableEvaluator(), now=NOW)
    reference = decide_many(program, cases=cases, registry=REGISTRY, evaluator=ReferenceEvaluator(), now=NOW)
    assert [comparable(d) for d in many] == [comparable(d) for d in reference]
    statuses = {c.status for d in many for c in d.conditions}
    assert statuses == {"pass", "fail", "unknown"}
    assert Counter(d.outcome for d in many) == Counter(EXPECTED_OUTCOME[i % 4] for i in range(len(cases)))


def test_decisions_equal_the_validated_models() -> None:
    """Decisions are built without validating their parts again: validating them gives the same
    model and the same JSON, byte for byte."""
    program = pilot("deed-tax")
    for i in range(8):
        decision = decide(
            program, case=deed_case(i), registry=REGISTRY, evaluator=DurableEvaluator(), now=NOW
        )
        validated = Decision.model_validate(decision.model_dump(exclude_unset=True))
        assert validated == decision
        assert validated.model_dump_json() == decision.model_dump_json()
        assert validated.model_fields_set == decision.model_fields_set
        assert [c.model_fields_set for c in validated.conditions] == [
            c.model_fields_set for c in decision.conditions
        ]
        assert [m.model_fields_set for m in validated.materials] == [
            m.model_fields_set for m in decision.materials
        ]


def test_fired_actions_are_read_whatever_their_layout() -> None:
    assert _fired_by('{"f3":{"m":{"i": 12, "sid": "5", "_t": "c", "k0": 1}}}') == [("f3", 12)]
    assert _fired_by('{"ok": {"m": {"sid": "5", "i": 4}}}') == [("ok", 4)]
    assert _fired_by('{"u": [{"m": {"i": 1}}, {"m": {"i": 2}}]}') == [("u", 1), ("u", 2)]


def test_more_batches_than_the_session_limit_leave_no_session_state() -> None:
    """Each batch is one session, deleted at once: 1100 batches (past the 1024 sessions a leak would
    exhaust) all decide, with every rule path taken."""
    program = pilot("deed-tax")
    evaluator = DurableEvaluator()
    cases = [deed_case(i) for i in range(4)]
    outcomes: Counter[str] = Counter()
    for _ in range(1100):
        for decision in decide_many(program, cases=cases, registry=REGISTRY, evaluator=evaluator, now=NOW):
            outcomes[decision.outcome] += 1
    assert outcomes == {"approved": 1100, "review": 2200, "returned": 1100}


def test_a_batch_leaves_the_garbage_collector_as_it_found_it() -> None:
    program = pilot("deed-tax")
    cases = [deed_case(i) for i in range(40)]
    assert gc.isenabled()
    decide_many(program, cases=cases, registry=REGISTRY, evaluator=DurableEvaluator(), now=NOW)
    assert gc.isenabled()
    gc.disable()
    try:
        decide_many(program, cases=cases, registry=REGISTRY, evaluator=DurableEvaluator(), now=NOW)
        assert not gc.isenabled()
    finally:
        gc.enable()
    broken = deed_case(0).model_copy(update={"form": {**deed_case(0).form, "area_m2": "很大"}})
    with pytest.raises(CaseError):
        decide_many(program, cases=[*cases, broken], registry=REGISTRY, evaluator=DurableEvaluator(), now=NOW)
    assert gc.isenabled()
