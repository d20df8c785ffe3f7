"""The built-in functions of the language, their arities, and the functions that take a
comprehension (`count(x in list where ...)`)."""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from engine.expr.syntax import MISSING
from engine.expr.values import truth


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
    t = truth(cond)
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
SIGNATURES: dict[str, tuple[str, ...]] = {
    "if": ("if(cond: bool, then: T, otherwise: T) -> T",),
    "count": ("count(items: list) -> number", "count(x in items: list where cond: bool) -> number"),
    "any": ("any(x in items: list where cond: bool) -> bool",),
    "all": ("all(x in items: list where cond: bool) -> bool",),
    "select": ("select(x in items: list[T] where cond: bool) -> list[T]",),
    "age": ("age(birth: date, on: date) -> number",),
    "days_between": ("days_between(start: date, end: date) -> number",),
    "add_months": ("add_months(day: date, months: number) -> date",),
    "months_before": ("months_before(day: date, n: number) -> list[string]",),
    "round": ("round(x: number, places: number = 0) -> number",),
    "coalesce": ("coalesce(a: T, b: T, ...) -> T",),
    "collect": ("collect(a: T | list[T], ...) -> list[T]",),
    "distinct": ("distinct(items: list[T]) -> list[T]",),
    "sum": ("sum(items: list[number]) -> number",),
    "date": ("date(text: string) -> date",),
    "min": ("min(a: T, b: T, ...) -> T",),
    "max": ("max(a: T, b: T, ...) -> T",),
    "exists": ("exists(x: T) -> bool",),
    "known": ("known(x: T) -> bool",),
}
"""Every function's signature as the README lists it (the type check, engine.expr.types, applies
them): T stands for one type throughout a signature; min and max take numbers, dates or texts."""
