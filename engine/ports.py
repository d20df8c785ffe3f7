"""Ports: the small interfaces through which the decision core reaches the outside world."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

Row = Mapping[str, Any]
"""One registry row: column name → str | Decimal | int | date | None (types per engine.registries)."""


Query = tuple[str, Mapping[str, Sequence[Any]]]
"""One look-up: the registry and the values each column must equal (the arguments of `find`)."""


class RegistryPort(Protocol):
    """Read access to the shared government registries.

    A port may also have `prefetch(queries: Sequence[Query]) -> None`: a hint that these look-ups
    are about to be asked, so that it can read them together (one statement instead of one each).
    It returns nothing and changes no answer: every look-up is still asked through `find`, which
    gives the same rows as without the hint. The engine calls it when the port has it."""

    def find(self, registry: str, match: Mapping[str, Sequence[Any]]) -> list[Row]:
        """Rows of `registry` whose column equals one of the given values, for every column in `match`.

        Values are typed as in the catalogue (str, Decimal, int, date). Rows come back in a stable
        order (by the registry's key) so decisions are reproducible.
        """
        ...


class InMemoryRegistry:
    """A RegistryPort over rows held in memory: for tests, benchmarks and replay of recorded facts.

    Rows are indexed by column on first use (column value → row positions), so a look-up costs a few
    dict hits rather than a scan; rows come back in the order they were added."""

    def __init__(self, rows: Mapping[str, Sequence[Row]] | None = None) -> None:
        self._rows: dict[str, list[Row]] = {k: list(v) for k, v in (rows or {}).items()}
        self._index: dict[tuple[str, str], dict[Any, list[int]] | None] = {}

    def add(self, registry: str, row: Row) -> None:
        rows = self._rows.setdefault(registry, [])
        rows.append(dict(row))
        for (reg, col), index in list(self._index.items()):
            if reg != registry or index is None:
                continue
            try:
                index.setdefault(rows[-1].get(col), []).append(len(rows) - 1)
            except TypeError:  # an unhashable value: scan this column from now on
                self._index[reg, col] = None

    def _column(self, registry: str, col: str) -> dict[Any, list[int]] | None:
        key = (registry, col)
        if key not in self._index:
            index: dict[Any, list[int]] | None = {}
            try:
                for pos, r in enumerate(self._rows.get(registry, [])):
                    index.setdefault(r.get(col), []).append(pos)  # type: ignore[union-attr]
            except TypeError:
                index = None
            self._index[key] = index
        return self._index[key]

    def find(self, registry: str, match: Mapping[str, Sequence[Any]]) -> list[Row]:
        rows = self._rows.get(registry, [])
        wanted = {col: set(values) for col, values in match.items()}
        if not wanted:
            return list(rows)
        best: list[int] | None = None
        for col, values in wanted.items():
            index = self._column(registry, col)
            if index is None:
                continue
            hits: list[int] = []
            for v in values:
                hits.extend(index.get(v, ()))
            if best is None or len(hits) < len(best):
                best = hits
            if not best:
                return []
        candidates = (rows[pos] for pos in sorted(set(best))) if best is not None else iter(rows)
        return [r for r in candidates if all(r.get(c) in vs for c, vs in wanted.items())]


__all__ = ["Decimal", "InMemoryRegistry", "Query", "RegistryPort", "Row", "date"]
