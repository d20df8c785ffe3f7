"""The tree-walking evaluator: the definition of the language's semantics."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from engine.errors import ExpressionError
from engine.expr.analysis import free_paths
from engine.expr.functions import FUNCTIONS
from engine.expr.syntax import (
    COMPARISONS,
    MISSING,
    Binary,
    Call,
    Comprehension,
    Env,
    ListExpr,
    Literal,
    Node,
    Path,
    Unary,
)
from engine.expr.values import compare, equal, resolve, truth


def interpret(node: Node, env: Env) -> Any:
    """Evaluate an expression by walking its tree: the definition of the language's semantics.

    `evaluate` runs the same expression compiled to closures (engine.expr.compiler); the
    differential tests hold the two equal on random expressions and on every ruleset's."""
    kind = type(node)
    if kind is Path:
        return resolve(env, node.parts)  # type: ignore[union-attr]
    if kind is Literal:
        return node.value  # type: ignore[union-attr]
    if kind is Binary:
        return _binary(node, env)  # type: ignore[arg-type]
    if kind is Call:
        return FUNCTIONS[node.name](*[interpret(a, env) for a in node.args])  # type: ignore[union-attr]
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Path):
        return resolve(env, node.parts)
    if isinstance(node, ListExpr):
        return [interpret(i, env) for i in node.items]
    if isinstance(node, Unary):
        v = interpret(node.operand, env)
        if node.op == "not":
            t = truth(v)
            return MISSING if t is MISSING else not t
        if v is MISSING or not isinstance(v, Decimal):
            return MISSING
        return -v
    if isinstance(node, Binary):
        return _binary(node, env)
    if isinstance(node, Call):
        args = [interpret(a, env) for a in node.args]
        return FUNCTIONS[node.name](*args)
    if isinstance(node, Comprehension):
        return _comprehension(node, env)
    raise ExpressionError(f"无法求值的节点 {node!r}")


def _binary(node: Binary, env: Env) -> Any:
    if node.op in ("and", "or"):
        left = truth(interpret(node.left, env))
        if node.op == "and" and left is False:
            return False
        if node.op == "or" and left is True:
            return True
        right = truth(interpret(node.right, env))
        if node.op == "and":
            if right is False:
                return False
            return MISSING if MISSING in (left, right) else True
        if right is True:
            return True
        return MISSING if MISSING in (left, right) else False
    a = interpret(node.left, env)
    b = interpret(node.right, env)
    if node.op in COMPARISONS:
        return compare(node.op, a, b)
    if node.op == "in":
        if a is MISSING or b is MISSING or not isinstance(b, list):
            return MISSING
        results = [equal(a, item) if item is not MISSING else MISSING for item in b]
        if True in results:
            return True
        return MISSING if MISSING in results else False
    if a is MISSING or b is MISSING or a is None or b is None:
        return MISSING
    if node.op in ("+", "-") and isinstance(a, date) and isinstance(b, Decimal):
        days = int(b) if node.op == "+" else -int(b)
        return a + timedelta(days=days)
    if not (isinstance(a, Decimal) and isinstance(b, Decimal)):
        return MISSING
    if node.op == "+":
        return a + b
    if node.op == "-":
        return a - b
    if node.op == "*":
        return a * b
    if b == 0:
        return MISSING
    return a / b


def _comprehension(node: Comprehension, env: Env) -> Any:
    source = interpret(node.source, env)
    if source is MISSING:
        return MISSING
    if not isinstance(source, list):
        return MISSING
    # a filter whose own parameters are unknown gives an unknown result, even over an empty list
    if any(resolve(env, p.parts) is MISSING for p in free_paths(node.predicate, frozenset({node.var}))):
        return MISSING
    results: list[Any] = []
    for item in source:
        scope = {**env, node.var: item}
        results.append(truth(interpret(node.predicate, scope)))
    if node.func == "select":
        if MISSING in results:
            return MISSING
        return [item for item, ok in zip(source, results, strict=True) if ok]
    if node.func == "count":
        if MISSING in results:
            return MISSING
        return Decimal(sum(1 for r in results if r))
    if node.func == "any":
        if True in results:
            return True
        return MISSING if MISSING in results else False
    # all
    if False in results:
        return False
    return MISSING if MISSING in results else True
