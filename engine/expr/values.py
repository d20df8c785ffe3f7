"""The semantics shared by the interpreter, the compiler and the built-in functions: how a path is
followed, when two values are equal or ordered, and the truth of a value (three-valued: MISSING
propagates)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from engine.expr.syntax import MISSING, Env


def resolve(env: Env, parts: Sequence[str]) -> Any:
    """Follow a dotted path; a path through a list maps over its elements."""
    value: Any = env.get(parts[0], MISSING)
    for part in parts[1:]:
        value = value.get(part, MISSING) if type(value) is dict else attribute(value, part)
    return value


def attribute(value: Any, part: str) -> Any:
    if type(value) is dict:
        return value.get(part, MISSING)
    if value is MISSING or value is None:
        return MISSING
    if isinstance(value, Mapping):
        return value.get(part, MISSING)
    if isinstance(value, list):
        return [attribute(v, part) for v in value]
    return MISSING


def comparable(a: Any, b: Any) -> bool:
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
        return equal(a, b)
    if op == "!=":
        eq = equal(a, b)
        return MISSING if eq is MISSING else not eq
    if a is None or b is None or not comparable(a, b):
        return MISSING
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def equal(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)


def truth(v: Any) -> Any:
    if v is MISSING:
        return MISSING
    if isinstance(v, bool):
        return v
    return MISSING if v is None else bool(v)
