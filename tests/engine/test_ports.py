"""The in-memory registry: its column indexes give what a scan of the rows gives, in row order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ports import InMemoryRegistry, Row

VALUES = st.sampled_from(["a", "b", "c", None, Decimal("1"), Decimal("1.0"), 2])
ROWS = st.lists(st.fixed_dictionaries({"x": VALUES, "y": VALUES}, optional={"z": VALUES}), max_size=30)
MATCH = st.dictionaries(
    st.sampled_from(["x", "y", "z"]), st.lists(VALUES.filter(lambda v: v is not None), max_size=3), max_size=3
)


def scan(rows: Sequence[Row], match: Mapping[str, Sequence[Any]]) -> list[Row]:
    return [r for r in rows if all(r.get(c) in set(vs) for c, vs in match.items())]


@settings(max_examples=300, deadline=None)
@given(rows=ROWS, more=ROWS, match=MATCH)
def test_indexed_find_equals_a_scan(rows: list[Row], more: list[Row], match: dict[str, list[Any]]) -> None:
    registry = InMemoryRegistry({"r": rows})
    assert registry.find("r", match) == scan(rows, match)
    for row in more:  # rows added after the indexes were built
        registry.add("r", row)
    assert registry.find("r", match) == scan(rows + more, match)
    assert registry.find("other", match) == []
