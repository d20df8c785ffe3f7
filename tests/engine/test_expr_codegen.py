"""Generated expressions (engine.expr.codegen) against the tree-walking interpreter, which defines
the semantics: on the random trees and facts of test_expr_compiled (unknown values, nulls, nested
records, lists through which paths map, nested comprehensions whose variables shadow facts), and on
hand-written expressions, both give the same value or raise the same error."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from test_expr_compiled import _facts, _outcome, _same, _trees

from engine import expr as E
from engine.expr import Node, parse
from engine.expr.codegen import generate, generated


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_trees, _facts)
def test_generated_expressions_agree_with_the_interpreter(node: Node, env: dict[str, Any]) -> None:
    want = _outcome(E.interpret, node, env)
    fn = generated(node)
    got = _outcome(lambda _n, e: fn(e), node, env)
    assert got[0] == want[0], (node, env, got, want)
    if want[0] == "error":
        assert got[1] == want[1]
    else:
        assert _same(got[1], want[1]), (node, env, got, want)
    # `x` bound beside the facts rather than among them (a look-up's `row`)
    if "x" in env:
        rest = {k: v for k, v in env.items() if k != "x"}
        beside_fn = generated(node, ("x",))
        beside = _outcome(lambda _n, e: beside_fn(e, env["x"]), node, rest)
        assert beside[0] == want[0] and (want[0] == "error" or _same(beside[1], want[1])), (node, env)


@pytest.mark.parametrize(
    "text",
    [
        "count(s in staff where count(i in paid where i.id == s.id) < 2)",
        "any(x in l where x.v > limit)",
        "select(x in l where x.k == 'a')",
        "all(x in x where x > 0)",
        "count(x in l where any(x in x.sub where x == 1))",
        "a.b.c.d",
        "if(a > 1, b, c)",
        "round(a * b, 2) + -c",
        "d + 30 - 1",
        "a in [b, 'x']",
        "true and a",
        "not (a or false)",
    ],
)
def test_hand_written_expressions_agree(text: str) -> None:
    env_samples: list[dict[str, Any]] = [
        {},
        {"staff": [{"id": "a"}, {"id": "b"}], "paid": [{"id": "a"}, {"id": "a"}]},
        {"l": [{"v": Decimal(2), "k": "a", "sub": [Decimal(1)]}, {}], "limit": Decimal(1)},
        {"x": [Decimal(1), Decimal(0)], "a": {"b": [{"c": {"d": 1}}, None]}},
        {"a": Decimal(2), "b": Decimal("1.235"), "c": Decimal(1), "d": date(2024, 2, 1)},
        {"a": True},
    ]
    node = parse(text)
    fn = generated(node)
    for env in env_samples:
        want, got = _outcome(E.interpret, node, env), _outcome(lambda _n, e: fn(e), node, env)
        assert want[0] == got[0] and (want[0] == "error" or _same(got[1], want[1])), (env, got, want)


def test_an_expression_too_deep_for_python_falls_back_to_the_closures() -> None:
    text = "a"
    for _ in range(60):
        text = f"(b or {text})"
    node = parse(text)
    [fn, other] = generate([(node, ()), (parse("a + 1"), ())])
    assert fn({"a": True, "b": False}) is True
    assert fn({"b": False}) is E.MISSING
    assert other({"a": Decimal(1)}) == 2
