"""Compiled expressions against the tree-walking interpreter, which defines the semantics.

`evaluate` runs expressions compiled to closures; `interpret` walks the tree. On random expression
trees over random facts (unknown values, nulls, nested records, lists through which paths map, nested
comprehensions whose variables shadow facts) both must give the same value, or both raise the same
error; and gathering every sample case's facts with either must give the same environment.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from engine_kit import ROOT, pilot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import expr as E
from engine.case import parse_case, validate_form
from engine.expr import (
    COMPARISONS,
    FUNCTION_ARITY,
    MISSING,
    Binary,
    Call,
    Comprehension,
    ListExpr,
    Literal,
    Node,
    Unary,
    parse,
)
from engine.expr import Path as P
from engine.facts import gather_facts
from engine.ports import InMemoryRegistry
from engine.registries import REGISTRIES
from store.loader import read_registry_file, registry_files

# --------------------------------------------------------------------------- random trees and facts

_scalars = st.one_of(
    st.decimals(min_value=-3, max_value=3, places=1, allow_nan=False),
    st.sampled_from(["a", "b", "", "2024-01-01"]),
    st.booleans(),
    st.none(),
    st.dates(min_value=date(2023, 12, 25), max_value=date(2024, 1, 5)),
)
_values = st.recursive(
    st.one_of(_scalars, st.just(MISSING)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "found", "x"]), inner, max_size=3),
    ),
    max_leaves=8,
)
# names facts may have; `x` and `y` are also comprehension variables, so shadowing is exercised
_NAMES = ["a", "b", "found", "x", "y", "items"]
_facts = st.dictionaries(st.sampled_from(_NAMES), _values, max_size=6)
_paths = st.lists(st.sampled_from(_NAMES), min_size=1, max_size=3).map(lambda parts: P(tuple(parts)))
_leaves = st.one_of(_scalars.map(Literal), _paths)

_OPS = [*COMPARISONS, "and", "or", "in", "+", "-", "*", "/"]


def _extend(inner: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    calls = st.sampled_from(sorted(FUNCTION_ARITY)).flatmap(
        lambda name: st.lists(
            inner, min_size=FUNCTION_ARITY[name][0], max_size=min(FUNCTION_ARITY[name][1], 3)
        ).map(lambda args, name=name: Call(name, tuple(args)))
    )
    return st.one_of(
        st.builds(Binary, st.sampled_from(_OPS), inner, inner),
        st.builds(
            Binary, st.just("in"), inner, st.lists(inner, max_size=3).map(lambda i: ListExpr(tuple(i)))
        ),
        st.builds(Unary, st.sampled_from(["not", "-"]), inner),
        st.lists(inner, max_size=3).map(lambda items: ListExpr(tuple(items))),
        calls,
        st.builds(
            Comprehension,
            st.sampled_from(list(E.COMPREHENSIONS)),
            st.sampled_from(["x", "y"]),
            inner,
            inner,
        ),
    )


_trees = st.recursive(_leaves, _extend, max_leaves=12)


def _outcome(fn: Any, node: Node, env: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "value", fn(node, env)
    except Exception as exc:  # the same error type must come out of both
        return "error", type(exc).__name__


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same kind all the way down (MISSING only matches MISSING)."""
    if a is MISSING or b is MISSING:
        return a is b
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, Decimal):
        return a == b and str(a) == str(b)
    return bool(a == b)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_trees, _facts)
def test_compiled_expressions_agree_with_the_interpreter(node: Node, env: dict[str, Any]) -> None:
    want = _outcome(E.interpret, node, env)
    got = _outcome(E.evaluate, node, env)
    assert got[0] == want[0], (node, env, got, want)
    if want[0] == "error":
        assert got[1] == want[1]
    else:
        assert _same(got[1], want[1]), (node, env, got, want)
    # the same with `x` bound beside the facts rather than among them (a look-up's `row`)
    if "x" in env:
        rest = {k: v for k, v in env.items() if k != "x"}
        try:
            beside: tuple[str, Any] = ("value", E.evaluate_in(node, rest, {"x": env["x"]}))
        except Exception as exc:
            beside = ("error", type(exc).__name__)
        assert beside[0] == want[0] and (want[0] == "error" or _same(beside[1], want[1])), (node, env)


@pytest.mark.parametrize(
    "text",
    [
        "count(s in staff where count(i in paid where i.id == s.id) < 2)",
        "any(x in l where x.v > limit)",
        "select(x in l where x.k == 'a')",
        "all(x in x where x > 0)",  # the variable shadows the list it runs over
        "count(x in l where any(x in x.sub where x == 1))",
        "a.b.c.d",
        "if(a > 1, b, c)",
        "round(a * b, 2) + -c",
        "d + 30 - 1",
        "a in [b, 'x']",
    ],
)
def test_hand_written_expressions_agree(text: str) -> None:
    env_samples: list[dict[str, Any]] = [
        {},
        {"staff": [{"id": "a"}, {"id": "b"}], "paid": [{"id": "a"}, {"id": "a"}]},
        {"l": [{"v": Decimal(2), "k": "a", "sub": [Decimal(1)]}, {}], "limit": Decimal(1)},
        {"x": [Decimal(1), Decimal(0)], "a": {"b": [{"c": {"d": 1}}, None]}},
        {"a": Decimal(2), "b": Decimal("1.235"), "c": Decimal(1), "d": date(2024, 2, 1)},
    ]
    node = parse(text)
    for env in env_samples:
        want, got = _outcome(E.interpret, node, env), _outcome(E.evaluate, node, env)
        assert want[0] == got[0] and (want[0] == "error" or _same(got[1], want[1])), (env, got, want)


def test_a_compiled_expression_is_reused_and_new_trees_are_compiled() -> None:
    node = parse("a + 1")
    assert E.evaluate(node, {"a": Decimal(1)}) == 2
    first = E._COMPILED[id(node)][1]
    assert E.evaluate(node, {"a": Decimal(2)}) == 3
    assert E._COMPILED[id(node)][1] is first
    other = parse("a + 1")  # equal but another object: compiled on its own
    assert E.evaluate(other, {"a": Decimal(5)}) == 6


# --------------------------------------------------------------------------- every sample case


def _sample_cases(item: str) -> list[Path]:
    return sorted((ROOT / "samples" / item / "cases").glob("*.json"))


@pytest.mark.parametrize("item", ["deed-tax", "safety-permit-renewal", "graduate-hukou"])
def test_sample_facts_are_the_same_interpreted_or_compiled(
    item: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = pilot(item)
    registry = InMemoryRegistry()
    for name, path in registry_files(ROOT / "samples" / "shared-data").items():
        for row in read_registry_file(REGISTRIES[name], path).values():
            registry.add(name, row)
    cases = [parse_case(json.loads(p.read_text(encoding="utf-8"))) for p in _sample_cases(item)]
    assert cases
    compiled = []
    for case in cases:
        form = validate_form(program.ruleset, case.form)
        compiled.append(gather_facts(program, case=case, form=form, registry=registry))
    monkeypatch.setattr(E, "evaluate", E.interpret)
    for case, fast in zip(cases, compiled, strict=True):
        form = validate_form(program.ruleset, case.form)
        slow = gather_facts(program, case=case, form=form, registry=registry)
        assert _same(fast.env, slow.env), case.case_id
        assert fast.sources == slow.sources, case.case_id
