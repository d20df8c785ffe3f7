"""The ruleset's specialised decision (engine.specialised: generated expressions, composed steps, the
unrolled pre-check) against the tree-walking path it replaces, which stays the definition
(`decide(..., oracle=True)`): whole decisions equal (outcome, every condition's status, values and
sources, reasons, materials, outputs) and the gathered facts equal, on every sample case of both
items, on random cases and registries (the worlds of test_differential), one by one and in batches."""

from __future__ import annotations

import json
from typing import Any

import pytest
from engine_kit import ROOT, comparable, pilot
from hypothesis import given, settings
from hypothesis import strategies as st
from test_differential import NOW, SLOW_OK, WORLDS, World

from engine import expr as E
from engine.case import parse_case, validate_case
from engine.decision import decide, decide_many, decide_traced
from engine.evaluate import DurableEvaluator, ReferenceEvaluator, check_all, check_all_specialised
from engine.facts import gather_many
from engine.ports import InMemoryRegistry
from engine.program import Program
from engine.registries import REGISTRIES
from engine.specialised import gather
from store.loader import read_registry_file, registry_files

ITEMS = ("deed-tax", "safety-permit-renewal")
PROGRAMS: dict[str, Program] = {}
DURABLE = DurableEvaluator()
REFERENCE = ReferenceEvaluator()


def program_of(item: str) -> Program:
    if item not in PROGRAMS:
        PROGRAMS[item] = pilot(item)
    return PROGRAMS[item]


def shared_data() -> InMemoryRegistry:
    registry = InMemoryRegistry()
    for name, path in registry_files(ROOT / "samples" / "shared-data").items():
        for row in read_registry_file(REGISTRIES[name], path).values():
            registry.add(name, row)
    return registry


class _Announcing:
    """An in-memory registry that also takes the look-ups read ahead, and keeps every call."""

    def __init__(self, inner: InMemoryRegistry) -> None:
        self.inner = inner
        self.calls: list[Any] = []

    def prefetch(self, queries: Any) -> None:
        self.calls.append(("prefetch", repr(queries)))

    def find(self, registry: str, match: Any) -> Any:
        self.calls.append(("find", registry, repr(match)))
        return self.inner.find(registry, match)


@pytest.mark.parametrize("item", ITEMS)
@pytest.mark.parametrize("interpreted", [False, True])
def test_every_sample_case_decides_alike(
    item: str, interpreted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = program_of(item)
    registry = shared_data()
    paths = sorted((ROOT / "samples" / item / "cases").glob("*.json"))
    cases = [parse_case(json.loads(p.read_text(encoding="utf-8"))) for p in paths]
    assert cases
    fast = [decide_traced(program, case=c, registry=registry, evaluator=DURABLE, now=NOW) for c in cases]
    batch = decide_many(program, cases=cases, registry=registry, evaluator=DURABLE, now=NOW)
    if interpreted:  # the oracle with the tree-walking interpreter itself under it
        monkeypatch.setattr(E, "evaluate", E.interpret)
    for case, (decision, facts), batched in zip(cases, fast, batch, strict=True):
        want, want_facts = decide_traced(
            program, case=case, registry=registry, evaluator=DURABLE, now=NOW, oracle=True
        )
        assert decision == want, case.case_id
        assert batched == want, case.case_id
        assert facts.env == want_facts.env and facts.sources == want_facts.sources, case.case_id
        assert facts.problems == want_facts.problems, case.case_id
        assert check_all_specialised(program, facts) == check_all(program, want_facts)


@pytest.mark.parametrize("item", ITEMS)
def test_look_ups_are_asked_and_announced_alike(item: str) -> None:
    program = program_of(item)
    inner = shared_data()
    paths = sorted((ROOT / "samples" / item / "cases").glob("*.json"))
    cases = [parse_case(json.loads(p.read_text(encoding="utf-8"))) for p in paths]
    items = [(c, validate_case(program.ruleset, c), None) for c in cases]
    fast, slow = _Announcing(inner), _Announcing(inner)
    ahead = [[("credit_records", {"subject_id": ["x"]})] for _ in cases]
    got = gather(program, items=items, registry=fast, ahead=ahead)
    want = gather_many(program, items=items, registry=slow, ahead=ahead)
    assert fast.calls == slow.calls
    assert [f.env for f in got] == [f.env for f in want]


def _decide_both(item: str, world: World) -> None:
    program = program_of(item)
    case, registry, documents = world
    for evaluator in (DURABLE, REFERENCE):
        got = decide(program, case=case, registry=registry, evaluator=evaluator, now=NOW, documents=documents)
        want = decide(
            program,
            case=case,
            registry=registry,
            evaluator=evaluator,
            now=NOW,
            documents=documents,
            oracle=True,
        )
        assert comparable(got) == comparable(want)
        assert got == want


@settings(max_examples=300, deadline=None, suppress_health_check=SLOW_OK)
@given(WORLDS["deed-tax"])
def test_deed_tax_random_worlds_decide_alike(world: World) -> None:
    _decide_both("deed-tax", world)


@settings(max_examples=300, deadline=None, suppress_health_check=SLOW_OK)
@given(WORLDS["safety-permit-renewal"])
def test_safety_permit_random_worlds_decide_alike(world: World) -> None:
    _decide_both("safety-permit-renewal", world)


@settings(max_examples=60, deadline=None, suppress_health_check=SLOW_OK)
@given(
    st.sampled_from(sorted(WORLDS)).flatmap(
        lambda item: st.tuples(st.just(item), st.lists(WORLDS[item], min_size=1, max_size=8))
    )
)
def test_batches_decide_alike(batch: tuple[str, list[World]]) -> None:
    item, worlds = batch
    program = program_of(item)
    for case, registry, documents in worlds:
        # every world has its own registry: a batch per world, of the case twice
        got = decide_many(
            program,
            cases=[case, case],
            registry=registry,
            evaluator=DURABLE,
            now=NOW,
            documents=[documents] * 2,
        )
        want = decide_many(
            program,
            cases=[case, case],
            registry=registry,
            evaluator=DURABLE,
            now=NOW,
            documents=[documents] * 2,
            oracle=True,
        )
        assert got == want
