"""The pre-check, common to every evaluation backend: it resolves each condition's inputs and
settles as `unknown` every condition whose inputs are missing or ill-typed, or that the backend
cannot compare (its `Encoder` refuses a value); only the rest is evaluated."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Protocol

from engine import expr as E
from engine.facts import Facts
from engine.program import CompiledCondition, Program

Status = Literal["pass", "fail", "unknown"]


class Encoder(Protocol):
    """How an evaluation backend represents a known scalar value (null, bool, number, text, date)."""

    as_is: frozenset[str]
    """Kinds of values the backend takes unchanged (see `_kind`)..."""
    reserved: frozenset[Any]
    """...except these values, which go through `encode`."""

    def encode(self, value: Any) -> Any:
        """The backend's form of a value; raises OverflowError, TypeError or ValueError for a value
        the backend cannot compare (the condition is then unknown)."""
        ...


@dataclass(slots=True)
class Checked:
    """A condition's inputs: their values, which are missing, and whether it can be evaluated.
    `encoded` holds the inputs as the evaluation backend represents them (path → value, see
    `Encoder`), for those that could be encoded; None when built elsewhere (the backend then
    encodes them itself)."""

    values: dict[str, Any]
    missing: tuple[str, ...]
    problem: str | None
    encoded: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def evaluable(self) -> bool:
        return not self.missing and self.problem is None


_KIND_OF_TYPE: dict[type, str] = {
    type(None): "null",
    bool: "bool",
    Decimal: "number",
    str: "string",
    date: "date",
}
_SCALAR = frozenset(("null", "bool", "number", "string", "date"))


def _kind(v: Any) -> str:
    kind = _KIND_OF_TYPE.get(type(v))
    if kind is not None:
        return kind
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, Decimal):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, date):
        return "date"
    return type(v).__name__


def _escaped(text: str) -> bool:
    """Characters JSON escapes: the production backend orders strings in their escaped form, Python
    does not, so such strings are not ordered at all."""
    return any(ch in '"\\' or ord(ch) < 0x20 for ch in text)


_Info = tuple[Any, str, Any, str | None]
"""A resolved input: value, kind, encoded value (None when it cannot be encoded), why not."""


def _info(dotted: str, value: Any, encoder: Encoder) -> _Info:
    if value is E.MISSING:
        return (value, "missing", None, None)
    kind = _kind(value)
    if kind not in _SCALAR:
        return (value, kind, None, f"{dotted} 不是可比较的单个值")
    if kind in encoder.as_is and value not in encoder.reserved:
        return (value, kind, value, None)
    try:
        return (value, kind, encoder.encode(value), None)
    except (OverflowError, TypeError, ValueError) as exc:
        return (value, kind, None, str(exc))


def _operand(operand: tuple[str | None, E.Node], infos: dict[str, _Info]) -> tuple[Any, str] | None:
    """A leaf operand (a path already resolved, or a literal) and its kind; None otherwise."""
    dotted, node = operand
    if dotted is not None:
        info = infos.get(dotted)
        return None if info is None else (info[0], info[1])
    if type(node) is E.Literal:
        return node.value, _kind(node.value)
    return None


_BY_VALUE = object()
"""Marks a leaf check that depends on the values themselves, not only on their kinds."""


def _leaf_problem(cc: CompiledCondition, infos: dict[str, _Info], env: dict[str, Any]) -> Any:
    """Why the leaves of a condition cannot be compared, or None. The answer depends only on the
    kinds of the inputs, except when strings are ordered (then on their characters too): it is
    remembered per condition and kinds, and `_BY_VALUE` is returned alongside when it may not be."""
    by_value = False
    for op, left_operand, right_operands in cc.plan:
        got = _operand(left_operand, infos)
        if got is None:
            by_value = True
            value = E.evaluate(left_operand[1], env)
            got = (value, _kind(value))
        left, kl = got
        if op == "truth":
            if kl != "bool":
                return f"{left_operand[0] or '值'} 应为是/否", by_value
            continue
        for right_operand in right_operands:
            got = _operand(right_operand, infos)
            if got is None:
                by_value = True
                value = E.evaluate(right_operand[1], env)
                got = (value, _kind(value))
            right, kr = got
            if op == "==" or op == "!=" or op == "in":
                if kl != kr and kl != "null" and kr != "null":
                    return f"比较的两个值类型不一致（{kl} 与 {kr}）", by_value
            elif kl != kr or kl == "null" or kl == "bool":
                return f"无法比较大小（{kl} 与 {kr}）", by_value
            elif kl == "string":
                by_value = True
                if _escaped(left) or _escaped(right):
                    return "含引号、反斜杠或控制字符的文本不能比较大小", by_value
    return None, by_value


def _check(cc: CompiledCondition, env: dict[str, Any], infos: dict[str, _Info], encoder: Encoder) -> Checked:
    """The pre-check of one condition; `infos` caches each path's resolution for the whole case."""
    values: dict[str, Any] = {}
    encoded: dict[str, Any] = {}
    missing: list[str] = []
    problem: str | None = None
    kinds: list[str] = []
    unknown = E.MISSING
    for dotted, parts in cc.path_parts:
        info = infos.get(dotted)
        if info is None:
            info = infos[dotted] = _info(dotted, E.resolve(env, parts), encoder)
        value, kind, code, why = info
        values[dotted] = value
        kinds.append(kind)
        if value is unknown:
            missing.append(dotted)
        elif why is None:
            encoded[dotted] = code
        elif problem is None:
            problem = why
    if missing:
        return Checked(values, tuple(missing), None, encoded)
    if problem is not None:
        return Checked(values, (), problem, encoded)
    memo: dict[tuple[str, ...], Any] = cc.leaf_memo
    key = tuple(kinds)
    known = memo.get(key, _BY_VALUE)
    if known is not _BY_VALUE:
        return Checked(values, (), known, encoded)
    problem, by_value = _leaf_problem(cc, infos, env)
    if not by_value:
        memo[key] = problem
    return Checked(values, (), problem, encoded)


def check_condition(cc: CompiledCondition, env: dict[str, Any], encoder: Encoder) -> Checked:
    """Resolve a condition's inputs and settle whether it can be evaluated (types, encodability)."""
    return _check(cc, env, {}, encoder)


def check_all(program: Program, facts: Facts, encoder: Encoder) -> list[Checked]:
    """The pre-check of every condition of a case, in order."""
    infos: dict[str, _Info] = {}
    env = facts.env
    return [_check(cc, env, infos, encoder) for cc in program.conditions]
