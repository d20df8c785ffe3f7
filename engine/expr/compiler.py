"""Compiled evaluation: each expression becomes nested closures, built the first time it is seen."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
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
from engine.expr.values import attribute, comparable, equal, truth

# `interpret` walks the tree on every call. A ruleset's expressions are fixed once it is loaded, so
# `evaluate` compiles each one to nested closures the first time it is seen (the operator chosen,
# the path split, a comprehension's free parameters found, all at compile time) and calls those.
# Variables bound by a comprehension live in a small `scope` dict beside the facts instead of a copy
# of the whole environment per list item. The semantics are `interpret`'s, case for case; the
# differential tests (tests/engine/test_expr_compiled.py) hold them equal.

Compiled = Callable[[Env, Mapping[str, Any]], Any]
_NO_SCOPE: Mapping[str, Any] = {}
_PLAIN_KINDS = frozenset((str, Decimal, date, bool))
"""Two values of one of these exact types are equal when `==` says so (what `equal` decides)."""
_COMPILED: dict[int, tuple[Node, Compiled]] = {}
_COMPILED_MAX = 20_000


def evaluate(node: Node, env: Env) -> Any:
    """Evaluate an expression over facts (three-valued: MISSING propagates)."""
    entry = _COMPILED.get(id(node))
    if entry is None or entry[0] is not node:
        entry = (node, _compile(node, frozenset()))
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        _COMPILED[id(node)] = entry
    return entry[1](env, _NO_SCOPE)


_COMPILED_IN: dict[tuple[int, frozenset[str]], tuple[Node, Compiled]] = {}


def evaluate_in(node: Node, env: Env, scope: Mapping[str, Any]) -> Any:
    """Evaluate with some names bound beside the facts (as if `{**env, **scope}`, without the copy):
    e.g. a look-up's filter over each `row`."""
    key = (id(node), frozenset(scope))
    entry = _COMPILED_IN.get(key)
    if entry is None or entry[0] is not node:
        entry = (node, _compile(node, key[1]))
        if len(_COMPILED_IN) >= _COMPILED_MAX:
            _COMPILED_IN.clear()
        _COMPILED_IN[key] = entry
    return entry[1](env, scope)


def _compile(node: Node, bound: frozenset[str]) -> Compiled:
    if isinstance(node, Literal):
        value = node.value
        return lambda env, scope: value
    if isinstance(node, Path):
        return _compile_path(node.parts, bound)
    if isinstance(node, ListExpr):
        items = [_compile(i, bound) for i in node.items]
        return lambda env, scope: [f(env, scope) for f in items]
    if isinstance(node, Unary):
        return _compile_unary(node, bound)
    if isinstance(node, Binary):
        return _compile_binary(node, bound)
    if isinstance(node, Call):
        return _compile_call(node, bound)
    if isinstance(node, Comprehension):
        return _compile_comprehension(node, bound)
    raise ExpressionError(f"无法求值的节点 {node!r}")


def _compile_path(parts: tuple[str, ...], bound: frozenset[str]) -> Compiled:
    head, rest = parts[0], parts[1:]
    local = head in bound
    if not rest:
        if local:
            return lambda env, scope: scope.get(head, MISSING)
        return lambda env, scope: env.get(head, MISSING)

    def step(value: Any) -> Any:
        for part in rest:
            value = value.get(part, MISSING) if type(value) is dict else attribute(value, part)
        return value

    if len(rest) == 1:
        (only,) = rest

        def field_of_local(env: Env, scope: Mapping[str, Any]) -> Any:
            value = scope.get(head, MISSING)
            return value.get(only, MISSING) if type(value) is dict else attribute(value, only)

        def field_of_fact(env: Env, scope: Mapping[str, Any]) -> Any:
            value = env.get(head, MISSING)
            return value.get(only, MISSING) if type(value) is dict else attribute(value, only)

        return field_of_local if local else field_of_fact
    if local:
        return lambda env, scope: step(scope.get(head, MISSING))
    return lambda env, scope: step(env.get(head, MISSING))


def _compile_unary(node: Unary, bound: frozenset[str]) -> Compiled:
    operand = _compile(node.operand, bound)
    if node.op == "not":

        def not_(env: Env, scope: Mapping[str, Any]) -> Any:
            t = truth(operand(env, scope))
            return MISSING if t is MISSING else not t

        return not_

    def neg(env: Env, scope: Mapping[str, Any]) -> Any:
        v = operand(env, scope)
        if v is MISSING or not isinstance(v, Decimal):
            return MISSING
        return -v

    return neg


def _compile_binary(node: Binary, bound: frozenset[str]) -> Compiled:
    left, right, op = _compile(node.left, bound), _compile(node.right, bound), node.op
    if op in ("and", "or"):
        # Kleene logic: the side that settles it (false for `and`, true for `or`) wins even over an
        # unknown; otherwise an unknown side makes the whole unknown
        settles = op == "or"

        def junction(env: Env, scope: Mapping[str, Any]) -> Any:
            a = left(env, scope)
            if a is not True and a is not False:
                a = truth(a)
            if a is settles:
                return settles
            b = right(env, scope)
            if b is not True and b is not False:
                b = truth(b)
            if b is settles:
                return settles
            return MISSING if a is MISSING or b is MISSING else not settles

        return junction
    if op == "==":

        def eq(env: Env, scope: Mapping[str, Any]) -> Any:
            a, b = left(env, scope), right(env, scope)
            if a is MISSING or b is MISSING:
                return MISSING
            kind = type(a)
            if kind is type(b) and kind in _PLAIN_KINDS:
                return a == b
            return equal(a, b)

        return eq
    if op == "!=":

        def ne(env: Env, scope: Mapping[str, Any]) -> Any:
            a, b = left(env, scope), right(env, scope)
            if a is MISSING or b is MISSING:
                return MISSING
            return not equal(a, b)

        return ne
    if op in COMPARISONS:
        return _compile_order(op, left, right)
    if op == "in":

        def in_(env: Env, scope: Mapping[str, Any]) -> Any:
            a, b = left(env, scope), right(env, scope)
            if a is MISSING or b is MISSING or not isinstance(b, list):
                return MISSING
            unknown = False
            for item in b:
                if item is MISSING:
                    unknown = True
                elif equal(a, item):
                    return True
            return MISSING if unknown else False

        return in_
    return _compile_arithmetic(op, left, right)


def _compile_order(op: str, left: Compiled, right: Compiled) -> Compiled:
    cmp = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op]

    def order(env: Env, scope: Mapping[str, Any]) -> Any:
        a, b = left(env, scope), right(env, scope)
        if a is MISSING or b is MISSING or a is None or b is None:
            return MISSING
        ta, tb = type(a), type(b)
        if ta is tb and (ta is Decimal or ta is str or ta is date):
            return cmp(a, b)
        if not comparable(a, b):
            return MISSING
        return cmp(a, b)

    return order


def _compile_arithmetic(op: str, left: Compiled, right: Compiled) -> Compiled:
    def arith(env: Env, scope: Mapping[str, Any]) -> Any:
        a, b = left(env, scope), right(env, scope)
        if a is MISSING or b is MISSING or a is None or b is None:
            return MISSING
        if op in ("+", "-") and isinstance(a, date) and isinstance(b, Decimal):
            days = int(b) if op == "+" else -int(b)
            return a + timedelta(days=days)
        if not (isinstance(a, Decimal) and isinstance(b, Decimal)):
            return MISSING
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if b == 0:
            return MISSING
        return a / b

    return arith


def _compile_call(node: Call, bound: frozenset[str]) -> Compiled:
    fn = FUNCTIONS[node.name]
    args = [_compile(a, bound) for a in node.args]
    if len(args) == 1:
        (a0,) = args
        return lambda env, scope: fn(a0(env, scope))
    if len(args) == 2:
        a0, a1 = args
        return lambda env, scope: fn(a0(env, scope), a1(env, scope))
    return lambda env, scope: fn(*[a(env, scope) for a in args])


def _compile_comprehension(node: Comprehension, bound: frozenset[str]) -> Compiled:
    source = _compile(node.source, bound)
    inner = bound | {node.var}
    predicate = _compile(node.predicate, inner)
    var, func = node.var, node.func
    # the filter's own parameters: facts, or variables of an enclosing comprehension
    params = [_compile_path(p.parts, bound) for p in free_paths(node.predicate, frozenset({var}))]

    def truths(env: Env, scope: Mapping[str, Any], items: list[Any]) -> Iterator[Any]:
        """The predicate's truth for each item. One scope dict serves every item: a predicate
        never keeps its scope (a nested comprehension makes its own)."""
        local = dict(scope)
        for item in items:
            local[var] = item
            t = predicate(env, local)
            yield t if t is True or t is False else truth(t)

    def comprehension(env: Env, scope: Mapping[str, Any]) -> Any:
        items = source(env, scope)
        if items is MISSING or not isinstance(items, list):
            return MISSING
        for param in params:
            if param(env, scope) is MISSING:
                return MISSING
        if func == "count":
            n, unknown = 0, False
            for t in truths(env, scope, items):
                if t is True:
                    n += 1
                elif t is MISSING:
                    unknown = True
            return MISSING if unknown else Decimal(n)
        results = list(truths(env, scope, items))
        if func == "select":
            if MISSING in results:
                return MISSING
            return [item for item, ok in zip(items, results, strict=True) if ok]
        if func == "any":
            if True in results:
                return True
            return MISSING if MISSING in results else False
        if False in results:
            return False
        return MISSING if MISSING in results else True

    return comprehension
