"""Generated evaluation: an expression as the source of one Python function, compiled with
`compile()` once per ruleset (engine.specialised keeps them with the program).

The closures of `compiler` still call one closure per node. Here every node becomes straight-line
statements over local variables of one function (a comprehension a `for` loop, `and`/`or` nested
`if`s that skip the side that is not needed, exactly as the closures do), so an expression costs one
call. The semantics are `interpret`'s, case for case, in the same order of evaluation (so that the
same errors come out); the differential tests (tests/engine/test_expr_codegen.py) hold them equal.
An expression nested too deeply for Python's parser falls back to the closures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from engine.expr.analysis import free_paths
from engine.expr.compiler import evaluate, evaluate_in
from engine.expr.functions import FUNCTIONS
from engine.expr.syntax import (
    COMPARISONS,
    MISSING,
    Binary,
    Call,
    Comprehension,
    ListExpr,
    Literal,
    Node,
    Path,
    Unary,
)
from engine.expr.values import attribute, comparable, equal, truth

Generated = Callable[..., Any]
"""`f(env, *bound)`: the expression over the facts, with the names bound beside them as arguments."""

_MAX_DEPTH = 40
"""Nested blocks allowed in one generated function (Python refuses about 100 levels of indentation
and 20 nested loops); deeper expressions are evaluated by the closures."""


class _TooDeep(Exception):
    pass


def _in(a: Any, b: Any) -> Any:
    if a is MISSING or b is MISSING or not isinstance(b, list):
        return MISSING
    unknown = False
    for item in b:
        if item is MISSING:
            unknown = True
        elif equal(a, item):
            return True
    return MISSING if unknown else False


def _arith(op: str) -> Callable[[Any, Any], Any]:
    def arith(a: Any, b: Any) -> Any:
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


_GLOBALS: dict[str, Any] = {
    "MISSING": MISSING,
    "Decimal": Decimal,
    "date": date,
    "attribute": attribute,
    "comparable": comparable,
    "equal": equal,
    "truth": truth,
    "_in": _in,
    "_add": _arith("+"),
    "_sub": _arith("-"),
    "_mul": _arith("*"),
    "_div": _arith("/"),
    "_PLAIN": frozenset((str, Decimal, date, bool)),
    "_ORDERED": (Decimal, str, date),
}
_ARITH_NAMES = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div"}


class _Writer:
    """The source of one function: statements at their indentation, fresh local names, constants."""

    def __init__(self, consts: dict[str, Any], prefix: str) -> None:
        self.lines: list[str] = []
        self.consts = consts
        self.prefix = prefix
        self.count = 0
        self.loops: list[list[Any]] = []
        """The comprehensions being written, outermost first: [variable, line of its `for`, depth]."""

    def fresh(self) -> str:
        self.count += 1
        return f"t{self.count}"

    def const(self, value: Any) -> str:
        name = f"{self.prefix}c{len(self.consts)}"
        self.consts[name] = value
        return name

    def emit(self, depth: int, line: str) -> None:
        if depth > _MAX_DEPTH:
            raise _TooDeep
        self.lines.append("    " * depth + line)

    # every method below emits the statements of a node and returns the local name holding its value

    def node(self, node: Node, scope: dict[str, str], d: int) -> str:
        if isinstance(node, Literal):
            return self.const(node.value)
        if isinstance(node, Path):
            return self.path(node.parts, scope, d)
        if isinstance(node, ListExpr):
            items = [self.node(i, scope, d) for i in node.items]
            t = self.fresh()
            self.emit(d, f"{t} = [{', '.join(items)}]")
            return t
        if isinstance(node, Unary):
            return self.unary(node, scope, d)
        if isinstance(node, Binary):
            return self.binary(node, scope, d)
        if isinstance(node, Call):
            args = [self.node(a, scope, d) for a in node.args]
            fn = self.const(FUNCTIONS[node.name])
            t = self.fresh()
            self.emit(d, f"{t} = {fn}({', '.join(args)})")
            return t
        if isinstance(node, Comprehension):
            return self.comprehension(node, scope, d)
        raise TypeError(node)

    def path(self, parts: Sequence[str], scope: dict[str, str], d: int) -> str:
        """A path is read where it is written, or, inside comprehensions, before the outermost loop
        whose items it does not depend on: following a path has no effect and cannot fail, and
        nothing changes while an expression is evaluated, so it has the same value there."""
        head = parts[0]
        source = scope[head] if head in scope else f"env.get({self.const(head)}, MISSING)"
        lines = [f"{{t}} = {source}"]
        for part in parts[1:]:
            p = self.const(part)
            lines.append(f"{{t}} = {{t}}.get({p}, MISSING) if type({{t}}) is dict else attribute({{t}}, {p})")
        t = self.fresh()
        level = 0
        for i, (var, _at, _depth) in enumerate(self.loops):
            if head in scope and scope[head] == var:
                level = i + 1
        if level < len(self.loops):
            loop = self.loops[level]
            at, depth = loop[1], loop[2]
            if depth > _MAX_DEPTH:
                raise _TooDeep
            block = ["    " * depth + line.format(t=t) for line in lines]
            self.lines[at:at] = block
            for later in self.loops[level:]:
                later[1] += len(block)
            return t
        for line in lines:
            self.emit(d, line.format(t=t))
        return t

    def unary(self, node: Unary, scope: dict[str, str], d: int) -> str:
        o = self.node(node.operand, scope, d)
        t = self.fresh()
        if node.op == "not":
            self.emit(d, f"{t} = truth({o})")
            self.emit(d, f"if {t} is not MISSING: {t} = not {t}")
        else:
            self.emit(d, f"{t} = MISSING if {o} is MISSING or not isinstance({o}, Decimal) else -{o}")
        return t

    def binary(self, node: Binary, scope: dict[str, str], d: int) -> str:
        op = node.op
        if op in ("and", "or"):
            settles = "True" if op == "or" else "False"
            other = "False" if op == "or" else "True"
            t, a = self.fresh(), self.fresh()
            self.emit(d, f"{a} = {self.node(node.left, scope, d)}")
            self.emit(d, f"if {a} is not True and {a} is not False: {a} = truth({a})")
            self.emit(d, f"if {a} is {settles}: {t} = {settles}")
            self.emit(d, "else:")
            b = self.fresh()
            self.emit(d + 1, f"{b} = {self.node(node.right, scope, d + 1)}")
            self.emit(d + 1, f"if {b} is not True and {b} is not False: {b} = truth({b})")
            self.emit(d + 1, f"if {b} is {settles}: {t} = {settles}")
            self.emit(d + 1, f"else: {t} = MISSING if {a} is MISSING or {b} is MISSING else {other}")
            return t
        a = self.node(node.left, scope, d)
        b = self.node(node.right, scope, d)
        t = self.fresh()
        if op == "==":
            self.emit(d, f"if {a} is MISSING or {b} is MISSING: {t} = MISSING")
            self.emit(d, f"elif type({a}) is type({b}) and type({a}) in _PLAIN: {t} = {a} == {b}")
            self.emit(d, f"else: {t} = equal({a}, {b})")
        elif op == "!=":
            self.emit(d, f"{t} = MISSING if {a} is MISSING or {b} is MISSING else not equal({a}, {b})")
        elif op in COMPARISONS:
            self.emit(d, f"if {a} is MISSING or {b} is MISSING or {a} is None or {b} is None: {t} = MISSING")
            self.emit(d, f"elif type({a}) is type({b}) and type({a}) in _ORDERED: {t} = {a} {op} {b}")
            self.emit(d, f"elif not comparable({a}, {b}): {t} = MISSING")
            self.emit(d, f"else: {t} = {a} {op} {b}")
        elif op == "in":
            self.emit(d, f"{t} = _in({a}, {b})")
        else:
            self.emit(d, f"{t} = {_ARITH_NAMES[op]}({a}, {b})")
        return t

    def comprehension(self, node: Comprehension, scope: dict[str, str], d: int) -> str:
        t = self.fresh()
        items = self.node(node.source, scope, d)
        self.emit(d, f"if {items} is MISSING or not isinstance({items}, list): {t} = MISSING")
        self.emit(d, "else:")
        d += 1
        params = [self.path(p.parts, scope, d) for p in free_paths(node.predicate, frozenset({node.var}))]
        if params:
            self.emit(d, f"if {' or '.join(f'{p} is MISSING' for p in params)}: {t} = MISSING")
            self.emit(d, "else:")
            d += 1
        var = self.fresh()
        inner = {**scope, node.var: var}
        hit, unknown = self.fresh(), self.fresh()
        func = node.func
        if func == "count":
            self.emit(d, f"{hit} = 0")
        elif func == "select":
            self.emit(d, f"{hit} = []")
        else:
            self.emit(d, f"{hit} = False")
        self.emit(d, f"{unknown} = False")
        self.loops.append([var, len(self.lines), d])
        self.emit(d, f"for {var} in {items}:")
        p = self.fresh()
        self.emit(d + 1, f"{p} = {self.node(node.predicate, inner, d + 1)}")
        self.loops.pop()
        self.emit(d + 1, f"if {p} is not True and {p} is not False: {p} = truth({p})")
        self.emit(d + 1, f"if {p} is MISSING: {unknown} = True")
        if func == "count":
            self.emit(d + 1, f"elif {p} is True: {hit} += 1")
            self.emit(d, f"{t} = MISSING if {unknown} else Decimal({hit})")
        elif func == "select":
            self.emit(d + 1, f"elif {p} is True: {hit}.append({var})")
            self.emit(d, f"{t} = MISSING if {unknown} else {hit}")
        elif func == "any":
            self.emit(d + 1, f"elif {p} is True: {hit} = True")
            self.emit(d, f"{t} = True if {hit} else (MISSING if {unknown} else False)")
        else:  # all
            self.emit(d + 1, f"elif {p} is False: {hit} = True")
            self.emit(d, f"{t} = False if {hit} else (MISSING if {unknown} else True)")
        return t


def generate(nodes: Sequence[tuple[Node, tuple[str, ...]]]) -> list[Generated]:
    """One function per expression (with the names bound beside the facts, e.g. `("row",)`),
    compiled together in one module. An expression too deep for Python gets the closures instead."""
    consts: dict[str, Any] = {}
    sources: list[str] = []
    fallbacks: dict[int, Generated] = {}
    for i, (node, bound) in enumerate(nodes):
        writer = _Writer(consts, prefix=f"k{i}_")
        scope = {name: f"b_{name}" for name in bound}
        try:
            result = writer.node(node, scope, 1)
        except (_TooDeep, RecursionError):
            fallbacks[i] = _closure(node, bound)
            continue
        args = "".join(f", b_{name}" for name in bound)
        sources.append("\n".join([f"def e{i}(env{args}):", *writer.lines, f"    return {result}"]))
    namespace: dict[str, Any] = {**_GLOBALS, **consts}
    if sources:
        exec(compile("\n\n".join(sources), "<miaopi ruleset>", "exec"), namespace)
    return [fallbacks[i] if i in fallbacks else namespace[f"e{i}"] for i in range(len(nodes))]


def _closure(node: Node, bound: tuple[str, ...]) -> Generated:
    if not bound:
        return lambda env: evaluate(node, env)

    def beside(env: Any, *values: Any) -> Any:
        return evaluate_in(node, env, dict(zip(bound, values, strict=True)))

    return beside


def generated(node: Node, bound: tuple[str, ...] = ()) -> Generated:
    """One expression on its own (for tests)."""
    return generate([(node, bound)])[0]
