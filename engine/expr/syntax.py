"""The expression language's values and trees: `MISSING` (a value that is not known) and the nodes
the parser builds, which every later phase (analysis, interpretation, compilation) reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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

Env = Mapping[str, Any]
"""The facts an expression is evaluated over: top-level name → value."""


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
