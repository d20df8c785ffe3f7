"""The expression language of rulesets: parsing, static checks and evaluation.

Rule authors write small expressions in YAML strings::

    person.found and person.status == 'normal'
    count(h in houses where h.usage == 'residential')
    round(form.price_yuan * rate.tax_rate, 2)

Values are Decimal (every number), str, bool, date, None (a declared "none"), lists and records.
A value that is not known (a field absent, a record not found, unreadable data) is ``MISSING``;
it propagates through every operation, so a condition that needs it is *unknown*, never true.
"""

from __future__ import annotations

import calendar
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from engine.errors import ExpressionError


class _Missing:
    """The single value standing for "not known"."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        raise TypeError("MISSING has no truth value")


MISSING: Any = _Missing()

# --------------------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|\(|\)|\[|\]|,|\.)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "where", "true", "false", "null"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # number | string | op | name | kw | end
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ExpressionError(f"无法识别的字符 {text[pos]!r}", expression=text, position=pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            value = m.group()
            if kind == "name" and value in _KEYWORDS:
                kind = "kw"
            tokens.append(Token(kind, value, pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


# --------------------------------------------------------------------------- AST


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class Path:
    parts: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # not | -
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # and or == != < <= > >= in + - * /
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Comprehension:
    """`func(var in source where predicate)`: count / any / all / select over a list."""

    func: str
    var: str
    source: Node
    predicate: Node


Node = Literal | Path | ListExpr | Unary | Binary | Call | Comprehension

COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
_NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def accept(self, text: str) -> bool:
        tok = self.peek()
        if tok.kind in ("op", "kw") and tok.text == text:
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            tok = self.peek()
            found = tok.text or "表达式结尾"
            raise ExpressionError(
                f"此处应为 {text!r}，实际为 {found!r}", expression=self.text, position=tok.pos
            )

    def parse(self) -> Node:
        node = self.parse_or()
        tok = self.peek()
        if tok.kind != "end":
            raise ExpressionError(f"多余的内容 {tok.text!r}", expression=self.text, position=tok.pos)
        return node

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.accept("or"):
            node = Binary("or", node, self.parse_and())
        return node

    def parse_and(self) -> Node:
        node = self.parse_not()
        while self.accept("and"):
            node = Binary("and", node, self.parse_not())
        return node

    def parse_not(self) -> Node:
        if self.accept("not"):
            return Unary("not", self.parse_not())
        return self.parse_comparison()

    def parse_comparison(self) -> Node:
        node = self.parse_additive()
        tok = self.peek()
        if tok.kind == "op" and tok.text in COMPARISONS:
            self.take()
            return Binary(tok.text, node, self.parse_additive())
        if tok.kind == "kw" and tok.text == "in":
            self.take()
            return Binary("in", node, self.parse_additive())
        if tok.kind == "kw" and tok.text == "not" and self.peek(1).text == "in":
            self.take()
            self.take()
            return Unary("not", Binary("in", node, self.parse_additive()))
        return node

    def parse_additive(self) -> Node:
        node = self.parse_multiplicative()
        while self.peek().kind == "op" and self.peek().text in ("+", "-"):
            op = self.take().text
            node = Binary(op, node, self.parse_multiplicative())
        return node

    def parse_multiplicative(self) -> Node:
        node = self.parse_unary()
        while self.peek().kind == "op" and self.peek().text in ("*", "/"):
            op = self.take().text
            node = Binary(op, node, self.parse_unary())
        return node

    def parse_unary(self) -> Node:
        if self.accept("-"):
            operand = self.parse_unary()
            if isinstance(operand, Literal) and isinstance(operand.value, Decimal):
                return Literal(operand.value.copy_negate())
            return Unary("-", operand)
        return self.parse_primary()

    def parse_primary(self) -> Node:
        tok = self.take()
        if tok.kind == "number":
            return Literal(Decimal(tok.text))
        if tok.kind == "string":
            body = tok.text[1:-1]
            return Literal(re.sub(r"\\(.)", r"\1", body))
        if tok.kind == "kw" and tok.text in ("true", "false", "null"):
            return Literal({"true": True, "false": False, "null": None}[tok.text])
        if tok.kind == "op" and tok.text == "(":
            node = self.parse_or()
            self.expect(")")
            return node
        if tok.kind == "op" and tok.text == "[":
            items: list[Node] = []
            if not self.accept("]"):
                items.append(self.parse_or())
                while self.accept(","):
                    items.append(self.parse_or())
                self.expect("]")
            return ListExpr(tuple(items))
        if tok.kind == "name":
            if self.peek().kind == "op" and self.peek().text == "(":
                self.take()
                return self.parse_call(tok)
            parts = [tok.text]
            while self.peek().kind == "op" and self.peek().text == ".":
                self.take()
                name = self.take()
                if name.kind not in ("name", "kw"):
                    raise ExpressionError("'.' 之后应为字段名", expression=self.text, position=name.pos)
                parts.append(name.text)
            return Path(tuple(parts))
        found = tok.text or "表达式结尾"
        raise ExpressionError(f"此处应为值或字段，实际为 {found!r}", expression=self.text, position=tok.pos)

    def parse_call(self, name: Token) -> Node:
        if name.text not in FUNCTIONS and name.text not in COMPREHENSIONS:
            raise ExpressionError(
                f"未知函数 {name.text!r}",
                expression=self.text,
                position=name.pos,
                suggestion=suggest(name.text, [*FUNCTIONS, *COMPREHENSIONS]),
            )
        # comprehension: NAME in EXPR where EXPR
        if self.peek().kind == "name" and self.peek(1).text == "in":
            start = self.i
            var = self.take().text
            self.take()
            source = self.parse_additive()
            if self.accept("where"):
                predicate = self.parse_or()
                self.expect(")")
                if name.text not in COMPREHENSIONS:
                    raise ExpressionError(
                        f"函数 {name.text!r} 不支持 where 筛选", expression=self.text, position=name.pos
                    )
                return Comprehension(name.text, var, source, predicate)
            self.i = start
        args: list[Node] = []
        if not self.accept(")"):
            args.append(self.parse_or())
            while self.accept(","):
                args.append(self.parse_or())
            self.expect(")")
        if name.text not in FUNCTIONS:
            raise ExpressionError(
                f"函数 {name.text} 需要写成 {name.text}(x in 列表 where 条件)",
                expression=self.text,
                position=name.pos,
            )
        arity = FUNCTION_ARITY.get(name.text)
        if arity is not None and not (arity[0] <= len(args) <= arity[1]):
            raise ExpressionError(
                f"函数 {name.text} 需要 {arity[0]}–{arity[1]} 个参数，实际 {len(args)} 个",
                expression=self.text,
                position=name.pos,
            )
        return Call(name.text, tuple(args))


def parse(text: str) -> Node:
    """Parse an expression; raises ExpressionError with the position and a suggestion."""
    return _Parser(text).parse()


def suggest(name: str, candidates: Sequence[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"是否想写 {close[0]!r}？" if close else None


def walk(node: Node) -> list[Node]:
    """Every node of the tree, parents first."""
    out: list[Node] = [node]
    if isinstance(node, ListExpr):
        for item in node.items:
            out.extend(walk(item))
    elif isinstance(node, Unary):
        out.extend(walk(node.operand))
    elif isinstance(node, Binary):
        out.extend(walk(node.left))
        out.extend(walk(node.right))
    elif isinstance(node, Call):
        for arg in node.args:
            out.extend(walk(arg))
    elif isinstance(node, Comprehension):
        out.extend(walk(node.source))
        out.extend(walk(node.predicate))
    return out


def free_paths(node: Node, bound: frozenset[str] = frozenset()) -> list[Path]:
    """Paths that refer to facts (not to a comprehension's own variable), in order of appearance."""
    if isinstance(node, Path):
        return [] if node.parts[0] in bound else [node]
    if isinstance(node, Comprehension):
        return free_paths(node.source, bound) + free_paths(node.predicate, bound | {node.var})
    children: list[Node] = []
    if isinstance(node, ListExpr):
        children = list(node.items)
    elif isinstance(node, Unary):
        children = [node.operand]
    elif isinstance(node, Binary):
        children = [node.left, node.right]
    elif isinstance(node, Call):
        children = list(node.args)
    out: list[Path] = []
    for child in children:
        out.extend(free_paths(child, bound))
    return out


def negate(node: Node) -> Node:
    """Push a negation down to the comparisons (De Morgan). Sound in two-valued logic only:
    callers use it once every input of the expression is known."""
    if isinstance(node, Unary) and node.op == "not":
        return node.operand
    if isinstance(node, Binary):
        if node.op == "and":
            return Binary("or", negate(node.left), negate(node.right))
        if node.op == "or":
            return Binary("and", negate(node.left), negate(node.right))
        if node.op in _NEGATED:
            return Binary(_NEGATED[node.op], node.left, node.right)
    return Unary("not", node)


# --------------------------------------------------------------------------- evaluation

Env = Mapping[str, Any]


def _is_missing(v: Any) -> bool:
    return v is MISSING


def resolve(env: Env, parts: Sequence[str]) -> Any:
    """Follow a dotted path; a path through a list maps over its elements."""
    value: Any = env.get(parts[0], MISSING)
    for part in parts[1:]:
        value = value.get(part, MISSING) if type(value) is dict else _attr(value, part)
    return value


def _attr(value: Any, part: str) -> Any:
    if type(value) is dict:
        return value.get(part, MISSING)
    if value is MISSING or value is None:
        return MISSING
    if isinstance(value, Mapping):
        return value.get(part, MISSING)
    if isinstance(value, list):
        return [_attr(v, part) for v in value]
    return MISSING


def _comparable(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    return (
        (isinstance(a, Decimal) and isinstance(b, Decimal))
        or (isinstance(a, str) and isinstance(b, str))
        or (isinstance(a, date) and isinstance(b, date))
    )


def compare(op: str, a: Any, b: Any) -> Any:
    """Compare two known-or-missing values: True, False or MISSING."""
    if a is MISSING or b is MISSING:
        return MISSING
    if op == "==":
        return _equal(a, b)
    if op == "!=":
        eq = _equal(a, b)
        return MISSING if eq is MISSING else not eq
    if a is None or b is None or not _comparable(a, b):
        return MISSING
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def _equal(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)


def _truth(v: Any) -> Any:
    if v is MISSING:
        return MISSING
    if isinstance(v, bool):
        return v
    return MISSING if v is None else bool(v)


def interpret(node: Node, env: Env) -> Any:
    """Evaluate an expression by walking its tree: the definition of the language's semantics.

    `evaluate` runs the same expression compiled to closures (engine.expr_compile); the
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
            t = _truth(v)
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
        left = _truth(interpret(node.left, env))
        if node.op == "and" and left is False:
            return False
        if node.op == "or" and left is True:
            return True
        right = _truth(interpret(node.right, env))
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
        results = [_equal(a, item) if item is not MISSING else MISSING for item in b]
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
        results.append(_truth(interpret(node.predicate, scope)))
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


# --------------------------------------------------------------------------- functions


def _strict(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any) -> Any:
        if any(a is MISSING for a in args):
            return MISSING
        try:
            return fn(*args)
        except (TypeError, ValueError, InvalidOperation, ArithmeticError, AttributeError):
            return MISSING

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _count(items: Any) -> Any:
    if items is MISSING or not isinstance(items, list):
        return MISSING
    return Decimal(len(items))


def add_months(d: date, months: int) -> date:
    """The same day `months` calendar months later (earlier when negative), clamped to month end."""
    index = d.year * 12 + (d.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(d.day, last))


def age_on(birth: date, on: date) -> int:
    """Full years of age on a date."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


@_strict
def _age(birth: date, on: date) -> Decimal:
    if birth is None or on is None:
        raise ValueError
    return Decimal(age_on(birth, on))


@_strict
def _days_between(a: date, b: date) -> Decimal:
    return Decimal((b - a).days)


@_strict
def _add_months(d: date, n: Decimal) -> date:
    return add_months(d, int(n))


@_strict
def _months_before(d: date, n: Decimal) -> list[str]:
    """The `n` calendar months preceding the month of `d`, oldest first, as 'YYYY-MM'."""
    out = []
    for k in range(int(n), 0, -1):
        m = add_months(date(d.year, d.month, 1), -k)
        out.append(f"{m.year:04d}-{m.month:02d}")
    return out


@_strict
def _round(x: Decimal, places: Decimal = Decimal(0)) -> Decimal:
    return x.quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)


def _coalesce(*args: Any) -> Any:
    """The first argument that is known, not null, and not a record that was not found."""
    for a in args:
        if a is MISSING or a is None or (isinstance(a, Mapping) and a.get("found") is False):
            continue
        return a
    return MISSING


def _collect(*args: Any) -> Any:
    """Flatten scalars and lists into one list, dropping unknown and null values (for look-up keys)."""
    out: list[Any] = []
    for a in args:
        items = a if isinstance(a, list) else [a]
        out.extend(i for i in items if i is not MISSING and i is not None)
    return out


@_strict
def _distinct(items: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for i in items:
        if i not in seen:
            seen.append(i)
    return seen


@_strict
def _sum(items: list[Any]) -> Decimal:
    if any(i is MISSING for i in items):
        raise ValueError
    return sum((i for i in items if i is not None), Decimal(0))


@_strict
def _date(text: str) -> date:
    return date.fromisoformat(text)


@_strict
def _min(*args: Any) -> Any:
    return min(args)


@_strict
def _max(*args: Any) -> Any:
    return max(args)


@_strict
def _exists(value: Any) -> bool:
    return value is not None


def _known(value: Any) -> bool:
    return value is not MISSING


def _if(cond: Any, then: Any, otherwise: Any) -> Any:
    """`if(c, a, b)`: a when c holds, b when it does not, MISSING when c is not known."""
    t = _truth(cond)
    if t is MISSING:
        return MISSING
    return then if t else otherwise


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "if": _if,
    "count": _count,
    "age": _age,
    "days_between": _days_between,
    "add_months": _add_months,
    "months_before": _months_before,
    "round": _round,
    "coalesce": _coalesce,
    "collect": _collect,
    "distinct": _distinct,
    "sum": _sum,
    "date": _date,
    "min": _min,
    "max": _max,
    "exists": _exists,
    "known": _known,
}
FUNCTION_ARITY: dict[str, tuple[int, int]] = {
    "if": (3, 3),
    "count": (1, 1),
    "age": (2, 2),
    "days_between": (2, 2),
    "add_months": (2, 2),
    "months_before": (2, 2),
    "round": (1, 2),
    "coalesce": (1, 16),
    "collect": (1, 16),
    "distinct": (1, 1),
    "sum": (1, 1),
    "date": (1, 1),
    "min": (1, 16),
    "max": (1, 16),
    "exists": (1, 1),
    "known": (1, 1),
}
COMPREHENSIONS = ("count", "any", "all", "select")


# --------------------------------------------------------------------------- compiled evaluation
#
# `interpret` walks the tree on every call. A ruleset's expressions are fixed once it is loaded, so
# `evaluate` compiles each one to nested closures the first time it is seen (the operator chosen,
# the path split, a comprehension's free parameters found, all at compile time) and calls those.
# Variables bound by a comprehension live in a small `scope` dict beside the facts instead of a copy
# of the whole environment per list item. The semantics are `interpret`'s, case for case; the
# differential tests (tests/engine/test_expr_compiled.py) hold them equal.

Compiled = Callable[[Env, Mapping[str, Any]], Any]
_NO_SCOPE: Mapping[str, Any] = {}
_PLAIN_KINDS = frozenset((str, Decimal, date, bool))
"""Two values of one of these exact types are equal when `==` says so (what `_equal` decides)."""
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
            value = value.get(part, MISSING) if type(value) is dict else _attr(value, part)
        return value

    if len(rest) == 1:
        (only,) = rest

        def field_of_local(env: Env, scope: Mapping[str, Any]) -> Any:
            value = scope.get(head, MISSING)
            return value.get(only, MISSING) if type(value) is dict else _attr(value, only)

        def field_of_fact(env: Env, scope: Mapping[str, Any]) -> Any:
            value = env.get(head, MISSING)
            return value.get(only, MISSING) if type(value) is dict else _attr(value, only)

        return field_of_local if local else field_of_fact
    if local:
        return lambda env, scope: step(scope.get(head, MISSING))
    return lambda env, scope: step(env.get(head, MISSING))


def _compile_unary(node: Unary, bound: frozenset[str]) -> Compiled:
    operand = _compile(node.operand, bound)
    if node.op == "not":

        def not_(env: Env, scope: Mapping[str, Any]) -> Any:
            t = _truth(operand(env, scope))
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
                a = _truth(a)
            if a is settles:
                return settles
            b = right(env, scope)
            if b is not True and b is not False:
                b = _truth(b)
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
            return _equal(a, b)

        return eq
    if op == "!=":

        def ne(env: Env, scope: Mapping[str, Any]) -> Any:
            a, b = left(env, scope), right(env, scope)
            if a is MISSING or b is MISSING:
                return MISSING
            return not _equal(a, b)

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
                elif _equal(a, item):
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
        if not _comparable(a, b):
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
            yield t if t is True or t is False else _truth(t)

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
