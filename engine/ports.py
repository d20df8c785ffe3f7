"""Ports: the small interfaces through which the decision core reaches the outside world."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

Row = Mapping[str, Any]
"""One registry row: column name → str | Decimal | int | date | None (types per engine.registries)."""


class RegistryPort(Protocol):
    """Read access to the shared government registries."""

    def find(self, registry: str, match: Mapping[str, Sequence[Any]]) -> list[Row]:
        """Rows of `registry` whose column equals one of the given values, for every column in `match`.

        Values are typed as in the catalogue (str, Decimal, int, date). Rows come back in a stable
        order (by the registry's key) so decisions are reproducible.
        """
        ...


class InMemoryRegistry:
    """A RegistryPort over rows held in memory: for tests, benchmarks and replay of recorded facts."""

    def __init__(self, rows: Mapping[str, Sequence[Row]] | None = None) -> None:
        self._rows: dict[str, list[Row]] = {k: list(v) for k, v in (rows or {}).items()}

    def add(self, registry: str, row: Row) -> None:
        self._rows.setdefault(registry, []).append(dict(row))

    def find(self, registry: str, match: Mapping[str, Sequence[Any]]) -> list[Row]:
        wanted = {col: set(values) for col, values in match.items()}
        return [r for r in self._rows.get(registry, []) if all(r.get(c) in vs for c, vs in wanted.items())]


__all__ = ["Decimal", "InMemoryRegistry", "RegistryPort", "Row", "date"]
