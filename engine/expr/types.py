"""Static types of expressions: what each value can be before any case is seen, and the mistakes
that make a value unknown or a comparison always false at run time (a date compared with a text, a
text in arithmetic, an enum compared with a value it does not have, a function given the wrong kind
of argument).

The types follow the values of the language (engine.expr.values): number (Decimal), string (text,
with the set of values it can take when that is known: an enum), date, bool, null, list (of one
element type), record (named fields) and any (not known statically, never an error). Nullability is
not tracked: null may stand wherever a value may, and comparing with null is always allowed.

`Typer` infers the type of a tree in an environment of top-level names and reports `Issue`s instead
of raising, so that every mistake of a ruleset can be listed at once; a node in error has type any,
which keeps one mistake from being reported again by the nodes around it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Literal as TypingLiteral

from engine.expr.analysis import literal_text, suggest, unparse
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

Kind = TypingLiteral["number", "string", "date", "bool", "null", "list", "record", "any"]
_NAMES: dict[str, str] = {
    "number": "数字",
    "string": "文本",
    "date": "日期",
    "bool": "是/否值",
    "null": "空值 null",
    "list": "列表",
    "record": "记录",
    "any": "未知类型",
}
_ORDERED = frozenset(("number", "string", "date"))
"""Kinds whose values are ordered (< <= > >=), and the kinds min and max take."""


@dataclass(frozen=True, slots=True)
class Type:
    kind: Kind
    choices: frozenset[str] | None = None
    """For a string: the values it can take, when they are known (an enum, a literal)."""
    item: Type | None = None
    """For a list: the type of its elements."""
    fields: tuple[tuple[str, Type], ...] = ()
    """For a record: its fields, in declaration order."""

    def field(self, name: str) -> Type | None:
        return next((t for n, t in self.fields if n == name), None)

    @property
    def field_names(self) -> list[str]:
        return [n for n, _ in self.fields]

    @property
    def name(self) -> str:
        """The kind in Chinese, as messages name it."""
        if self.kind == "list" and self.item is not None and self.item.kind != "any":
            return f"列表（元素为{self.item.name}）"
        return _NAMES[self.kind]

    def __str__(self) -> str:
        if self.kind == "string" and self.choices is not None:
            return f"文本（取值 {choices_text(self.choices)}）"
        return self.name


NUMBER = Type("number")
STRING = Type("string")
DATE = Type("date")
BOOL = Type("bool")
NULL = Type("null")
ANY = Type("any")


def enum(values: Iterable[str]) -> Type:
    return Type("string", choices=frozenset(values))


def list_of(item: Type) -> Type:
    return Type("list", item=item)


def record(fields: Mapping[str, Type]) -> Type:
    return Type("record", fields=tuple(fields.items()))


def choices_text(choices: Iterable[str]) -> str:
    return "、".join(sorted(choices))


def join(a: Type, b: Type) -> Type | None:
    """The type of a value that is either an `a` or a `b` (the branches of an if, the rows of a
    table, the arguments of coalesce), or None when no value can be both kinds."""
    if a.kind == "any" or b.kind == "any":
        return ANY
    if a.kind == "null":
        return b
    if b.kind == "null":
        return a
    if a.kind != b.kind:
        return None
    if a.kind == "string":
        if a.choices is None or b.choices is None:
            return STRING
        return enum(a.choices | b.choices)
    if a.kind == "list":
        assert a.item is not None and b.item is not None
        item = join(a.item, b.item)
        return None if item is None else list_of(item)
    if a.kind == "record":
        fields = dict(a.fields)
        for name, t in b.fields:
            if name in fields:
                joined = join(fields[name], t)
                fields[name] = ANY if joined is None else joined
            else:
                fields[name] = t
        return record(fields)
    return a


def conforms(value: object, t: Type) -> bool:
    """Whether a value computed at run time is one the type allows (null always is): the soundness
    the property tests check the checker against."""
    if t.kind == "any" or value is None:
        return True
    if t.kind == "number":
        return isinstance(value, Decimal)
    if t.kind == "string":
        return isinstance(value, str) and (t.choices is None or value in t.choices)
    if t.kind == "date":
        return isinstance(value, date)
    if t.kind == "bool":
        return isinstance(value, bool)
    if t.kind == "list":
        assert t.item is not None
        return isinstance(value, list) and all(v is MISSING or conforms(v, t.item) for v in value)
    if t.kind == "record":
        if not isinstance(value, Mapping):
            return False
        known = dict(t.fields)
        return all(k in known and (v is MISSING or conforms(v, known[k])) for k, v in value.items())
    return False


@dataclass(frozen=True, slots=True)
class Issue:
    """A type error in an expression: what is wrong (naming the sub-expression) and how to fix it."""

    message: str
    suggestion: str | None = None


Hint = Callable[[Node, Type], "str | None"]
"""A suggestion for an operand that has the wrong type, given the type it should have (a ruleset
knows what a parameter holds); None when there is nothing to suggest."""


def literal_hint(node: Node, wanted: Type) -> str | None:
    """What a literal of the wrong kind was probably meant to be: '2024-01-01' where a date is
    wanted is date('2024-01-01'), '35' where a number is wanted is 35."""
    if not isinstance(node, Literal):
        return None
    value = node.value
    if isinstance(value, str):
        if wanted.kind == "date" and _is_date(value):
            return f"是否想写 date({literal_text(value)})？"
        if wanted.kind == "number" and _is_number(value):
            return f"是否想写 {value.strip()}？数字不加引号"
        if wanted.kind == "bool" and value in ("true", "false"):
            return f"是否想写 {value}？是/否值不加引号"
    if isinstance(value, Decimal) and not isinstance(value, bool) and wanted.kind == "string":
        return f"是否想写 '{value}'？文本要加引号"
    return None


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_number(text: str) -> bool:
    try:
        return Decimal(text.strip()).is_finite()
    except InvalidOperation:
        return False


_ARGUMENT_KINDS: dict[str, tuple[Kind, ...]] = {
    "age": ("date", "date"),
    "days_between": ("date", "date"),
    "add_months": ("date", "number"),
    "months_before": ("date", "number"),
    "round": ("number", "number"),
    "date": ("string",),
}
"""Functions whose arguments each have one kind (in order)."""
_RESULTS: dict[str, Type] = {
    "age": NUMBER,
    "days_between": NUMBER,
    "add_months": DATE,
    "months_before": list_of(STRING),
    "round": NUMBER,
    "date": DATE,
    "count": NUMBER,
    "sum": NUMBER,
    "exists": BOOL,
    "known": BOOL,
}


@dataclass
class Typer:
    """Infers the types of expressions over the top-level `names`; mistakes go to `issues`."""

    names: Mapping[str, Type]
    hint: Hint | None = None
    issues: list[Issue] = field(default_factory=list)

    def infer(self, node: Node, scope: Mapping[str, Type] | None = None) -> Type:
        return self._infer(node, dict(scope or {}))

    # ------------------------------------------------------------------ reporting

    def _issue(self, message: str, suggestion: str | None = None) -> Type:
        self.issues.append(Issue(message, suggestion))
        return ANY

    def _suggest(self, node: Node, wanted: Type) -> str | None:
        return literal_hint(node, wanted) or (self.hint(node, wanted) if self.hint else None)

    # ------------------------------------------------------------------ nodes

    def _infer(self, node: Node, scope: dict[str, Type]) -> Type:
        if isinstance(node, Literal):
            return _literal_type(node.value)
        if isinstance(node, Path):
            return self._path(node, scope)
        if isinstance(node, ListExpr):
            return self._list(node, scope)
        if isinstance(node, Unary):
            return self._unary(node, scope)
        if isinstance(node, Binary):
            return self._binary(node, scope)
        if isinstance(node, Call):
            return self._call(node, scope)
        return self._comprehension(node, scope)

    def _path(self, node: Path, scope: dict[str, Type]) -> Type:
        head = node.parts[0]
        t = scope[head] if head in scope else self.names.get(head, ANY)
        for i, part in enumerate(node.parts[1:], 1):
            t = self._attribute(t, part, ".".join(node.parts[:i]))
        return t

    def _attribute(self, t: Type, part: str, owner: str) -> Type:
        if t.kind == "list":
            assert t.item is not None
            inner = self._attribute(t.item, part, owner)
            return ANY if inner.kind == "any" else list_of(inner)  # a path through a list maps over it
        if t.kind == "record":
            found = t.field(part)
            if found is None:
                message = f"{owner} 没有字段 {part!r}（{owner}.{part}）"
                return self._issue(message, suggest(part, t.field_names))
            return found
        if t.kind in ("any", "null"):
            return ANY
        return self._issue(f"{owner} 是{t.name}，没有字段 {part!r}")

    def _list(self, node: ListExpr, scope: dict[str, Type]) -> Type:
        item: Type | None = None
        for element in node.items:
            t = self._infer(element, scope)
            if item is None:
                item = t
                continue
            joined = join(item, t)
            if joined is None:
                return self._issue(f"列表的元素类型不一致（{item.name}与{t.name}）：{unparse(node)}")
            item = joined
        return list_of(item or ANY)

    def _truth(self, node: Node, scope: dict[str, Type], what: str, whole: Node) -> None:
        t = self._infer(node, scope)
        if t.kind not in ("bool", "any"):
            hint = "是否想写 " + unparse(node) + ".found？" if t.kind == "record" else None
            self._issue(f"{what}应为是/否值，{unparse(node)} 是{t.name}：{unparse(whole)}", hint)

    def _unary(self, node: Unary, scope: dict[str, Type]) -> Type:
        if node.op == "not":
            self._truth(node.operand, scope, "not 的操作数", node)
            return BOOL
        t = self._infer(node.operand, scope)
        if t.kind not in ("number", "any"):
            return self._issue(f"负号只能用于数字，{unparse(node.operand)} 是{t.name}：{unparse(node)}")
        return t

    def _binary(self, node: Binary, scope: dict[str, Type]) -> Type:
        if node.op in ("and", "or"):
            self._truth(node.left, scope, f"{node.op} 的操作数", node)
            self._truth(node.right, scope, f"{node.op} 的操作数", node)
            return BOOL
        left = self._infer(node.left, scope)
        right = self._infer(node.right, scope)
        if node.op in COMPARISONS:
            self._compare(node, left, right)
            return BOOL
        if node.op == "in":
            self._membership(node, left, right)
            return BOOL
        return self._arithmetic(node, left, right)

    def _compare(self, node: Binary, left: Type, right: Type) -> None:
        text = unparse(node)
        for side, t in ((node.left, left), (node.right, right)):
            if t.kind in ("list", "record"):
                hint = "判断是否包含请用 in" if t.kind == "list" else None
                self._issue(f"{unparse(side)} 是{t.name}，不能比较：{text}", hint)
                return
        if "any" in (left.kind, right.kind):
            return
        ordering = node.op not in ("==", "!=")
        if ordering:
            for side, t in ((node.left, left), (node.right, right)):
                if t.kind == "null":
                    self._issue(f"空值 null 不能比较大小：{text}", "判断是否为空请用 == null 或 != null")
                    return
                if t.kind == "bool":
                    self._issue(f"是/否值不能比较大小（{unparse(side)}）：{text}")
                    return
        if "null" in (left.kind, right.kind):
            return
        if left.kind != right.kind:
            suggestion = self._suggest(node.right, left) or self._suggest(node.left, right)
            self._issue(f"{left.name}与{right.name}不能比较：{text}", suggestion)
            return
        if not ordering and left.kind == "string":
            self._values_meet(node, node.left, left, node.right, right)

    def _values_meet(self, whole: Node, a: Node, ta: Type, b: Node, tb: Type) -> None:
        """Two texts compared for equality whose known values have nothing in common are never equal:
        the enum is compared with a value it does not have."""
        if ta.choices is None or tb.choices is None or ta.choices & tb.choices:
            return
        if isinstance(b, Literal) or isinstance(a, Literal):
            enum_node, enum_type, lit = (a, ta, b) if isinstance(b, Literal) else (b, tb, a)
            assert isinstance(lit, Literal) and enum_type.choices is not None
            self._issue(
                f"{unparse(enum_node)} 的取值只有 {choices_text(enum_type.choices)}，"
                f"没有 {literal_text(lit.value)}：{unparse(whole)}",
                suggest(str(lit.value), sorted(enum_type.choices)),
            )
            return
        self._issue(
            f"{unparse(a)}（取值 {choices_text(ta.choices)}）与 {unparse(b)}"
            f"（取值 {choices_text(tb.choices)}）没有相同的取值，永远不相等：{unparse(whole)}"
        )

    def _membership(self, node: Binary, left: Type, right: Type) -> None:
        text = unparse(node)
        if right.kind not in ("list", "any"):
            self._issue(f"in 的右边应为列表，{unparse(node.right)} 是{right.name}：{text}")
            return
        if left.kind in ("list", "record"):
            self._issue(f"in 的左边应为单个值，{unparse(node.left)} 是{left.name}：{text}")
            return
        if right.kind == "any" or left.kind == "any":
            return
        assert right.item is not None
        item = right.item
        if isinstance(node.right, ListExpr):
            for element in node.right.items:
                if not isinstance(element, Literal) or element.value is None:
                    continue
                t = _literal_type(element.value)
                if t.kind != left.kind:
                    self._issue(
                        f"{left.name}与{t.name}不能比较：{unparse(element)}（{text}）",
                        self._suggest(element, left),
                    )
                    return
                if t.kind == "string" and left.choices is not None and element.value not in left.choices:
                    self._issue(
                        f"{unparse(node.left)} 的取值只有 {choices_text(left.choices)}，"
                        f"没有 {literal_text(element.value)}：{text}",
                        suggest(str(element.value), sorted(left.choices)),
                    )
                    return
        if item.kind in ("any", "null"):
            return
        if item.kind != left.kind:
            self._issue(f"{left.name}不会出现在{right.name}中：{text}")
            return
        if item.kind == "string" and not isinstance(node.right, ListExpr):
            self._values_meet(node, node.left, left, node.right, item)

    def _arithmetic(self, node: Binary, left: Type, right: Type) -> Type:
        text = unparse(node)
        for side, t in ((node.left, left), (node.right, right)):
            if t.kind in ("string", "bool", "null", "list", "record"):
                # a text on the left of date arithmetic ('2024-01-01' + 30) was meant to be a date
                dated = side is node.left and node.op in ("+", "-") and right.kind == "number"
                return self._issue(
                    f"{t.name}不能做算术（{node.op}），{unparse(side)} 是{t.name}：{text}",
                    self._suggest(side, DATE if dated else NUMBER),
                )
        if "any" in (left.kind, right.kind):
            return DATE if left.kind == "date" else ANY
        if left.kind == "date":
            if node.op in ("+", "-") and right.kind == "number":
                return DATE
            if node.op == "-" and right.kind == "date":
                return self._issue(
                    f"两个日期不能相减：{text}",
                    f"是否想写 days_between({unparse(node.right)}, {unparse(node.left)})？",
                )
            return self._issue(f"日期只能加减天数（数字）：{text}")
        if right.kind == "date":
            hint = f"是否想写 {unparse(node.right)} + {unparse(node.left)}？" if node.op == "+" else None
            return self._issue(f"日期只能写在加减号左边（日期 ± 天数）：{text}", hint)
        return NUMBER

    # ------------------------------------------------------------------ functions

    def _argument(self, name: str, i: int, arg: Node, t: Type, wanted: Kind, call: Call) -> bool:
        if t.kind == "any" or t.kind == wanted or (t.kind == "null" and name != "date"):
            return True
        self._issue(
            f"函数 {name} 的第 {i + 1} 个参数应为{_NAMES[wanted]}，"
            f"{unparse(arg)} 是{t.name}：{unparse(call)}",
            self._suggest(arg, Type(wanted)),
        )
        return False

    def _call(self, node: Call, scope: dict[str, Type]) -> Type:
        name = node.name
        args = [self._infer(a, scope) for a in node.args]
        text = unparse(node)
        if name in _ARGUMENT_KINDS:
            kinds = _ARGUMENT_KINDS[name]
            ok = all(
                self._argument(name, i, a, t, k, node)
                for i, (a, t, k) in enumerate(zip(node.args, args, kinds, strict=False))
            )
            first = node.args[0]
            if ok and name == "date" and isinstance(first, Literal) and not _is_date(str(first.value)):
                return self._issue(f"{text} 不是有效日期，应写成 YYYY-MM-DD，如 date('2024-01-01')")
            return _RESULTS[name] if ok else ANY
        if name == "if":
            self._truth(node.args[0], scope, "if 的第 1 个参数", node)
            return self._joined("if 的两个结果", node.args[1:], args[1:], text)
        if name == "coalesce":
            return self._joined("coalesce 的参数", node.args, args, text)
        if name in ("count", "distinct", "sum"):
            t = args[0]
            if t.kind not in ("list", "any"):
                return self._issue(f"函数 {name} 的参数应为列表，{unparse(node.args[0])} 是{t.name}：{text}")
            if name == "distinct":
                return t
            if name == "sum" and t.item is not None and t.item.kind not in ("number", "any", "null"):
                return self._issue(
                    f"函数 sum 的参数应为数字的列表，{unparse(node.args[0])} 是{t.name}：{text}"
                )
            return _RESULTS[name]
        if name == "collect":
            elements = [t.item if t.kind == "list" and t.item is not None else t for t in args]
            joined = self._joined("collect 的参数", node.args, elements, text)
            return list_of(joined)
        if name in ("min", "max"):
            for a, t in zip(node.args, args, strict=True):
                if t.kind not in (*_ORDERED, "any"):
                    return self._issue(
                        f"函数 {name} 的参数应为数字、日期或文本（逐个写出），{unparse(a)} 是{t.name}：{text}"
                    )
            return self._joined(f"{name} 的参数", node.args, args, text)
        return _RESULTS.get(name, ANY)

    def _joined(self, what: str, nodes: Iterable[Node], types: list[Type], text: str) -> Type:
        result: Type | None = None
        for n, t in zip(nodes, types, strict=True):
            if result is None:
                result = t
                continue
            joined = join(result, t)
            if joined is None:
                return self._issue(
                    f"{what}类型不一致（{result.name}与{t.name}）：{text}", self._suggest(n, result)
                )
            result = joined
        return result or ANY

    def _comprehension(self, node: Comprehension, scope: dict[str, Type]) -> Type:
        source = self._infer(node.source, scope)
        if source.kind not in ("list", "any"):
            self._issue(f"{node.func} 只能遍历列表，{unparse(node.source)} 是{source.name}：{unparse(node)}")
            source = ANY
        item = source.item if source.kind == "list" and source.item is not None else ANY
        self._truth(node.predicate, {**scope, node.var: item}, "where 的条件", node)
        if node.func == "count":
            return NUMBER
        if node.func == "select":
            return source if source.kind == "list" else list_of(ANY)
        return BOOL


def _literal_type(value: object) -> Type:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, Decimal):
        return NUMBER
    if isinstance(value, str):
        return enum((value,))
    if isinstance(value, date):
        return DATE
    return ANY
