"""Property: random valid registry rows survive CSV → load_directory → SqlRegistry.find unchanged."""

from __future__ import annotations

import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from store_testdata import USCC_ALPHABET, resident_id, sort_by_key, write_csv

from engine.ports import InMemoryRegistry
from engine.registries import REGISTRIES, Column, Registry
from store.loader import RegistryLoadCounts, load_directory
from store.registry import SqlRegistry
from store.values import INT_MAX, INT_MIN

REGIONS = ("110101", "110102", "110105", "110108", "310101", "310104", "120101")  # valid for 1900-2020

id_numbers = st.builds(
    lambda region, born, seq: resident_id(region=region, born=born, seq=seq),
    st.sampled_from(REGIONS),
    st.dates(date(1900, 1, 1), date(2020, 12, 31)),
    st.integers(0, 999),
)
credit_codes = st.builds(
    lambda digits, org: _credit_code(digits + org),
    st.text("0123456789", min_size=8, max_size=8),
    st.text(USCC_ALPHABET, min_size=9, max_size=9),
)
# Any text a registry might hold (CJK, quotes, commas, line breaks) except NUL and surrogates, and with no
# surrounding whitespace (the loader trims cells).
texts = (
    st.text(
        st.one_of(
            st.characters(codec="utf-8", exclude_characters="\x00"),
            st.sampled_from("张三李四北京市,\"'\n\r;"),
        ),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(bool)
)
decimals = st.decimals(
    min_value=Decimal("-99999999999999.9999"),
    max_value=Decimal("99999999999999.9999"),
    places=4,
    allow_nan=False,
    allow_infinity=False,
)
months = st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(1, 9999), st.integers(1, 12))


def _credit_code(body: str) -> str:
    from stdnum.cn import uscc

    return body + uscc.calc_check_digit(body)


def _values(column: Column) -> st.SearchStrategy[Any]:
    strategy: st.SearchStrategy[Any] = {
        "string": texts,
        "id_number": id_numbers,
        "credit_code": credit_codes,
        "subject_id": st.one_of(id_numbers, credit_codes),
        "decimal": decimals,
        "integer": st.integers(INT_MIN, INT_MAX),
        "date": st.dates(),
        "month": months,
        "enum": st.sampled_from(column.choices or ("x",)),
    }[column.kind]
    return st.one_of(st.none(), strategy) if column.nullable else strategy


def _rows(registry: Registry) -> st.SearchStrategy[list[dict[str, Any]]]:
    row = st.fixed_dictionaries({c.name: _values(c) for c in registry.columns})
    return st.lists(row, max_size=6, unique_by=lambda r: tuple(r[k] for k in registry.key))


# A snapshot: some registries (possibly none), each with some rows (possibly none).
snapshots = st.lists(st.sampled_from(list(REGISTRIES)), unique=True, max_size=4).flatmap(
    lambda names: st.fixed_dictionaries({n: _rows(REGISTRIES[n]) for n in names})
)


def _expected_counts(registry: Registry, old: list[Any], new: list[dict[str, Any]]) -> RegistryLoadCounts:
    def key(r: Any) -> tuple[Any, ...]:
        return tuple(r[k] for k in registry.key)

    before = {key(r): dict(r) for r in old}
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    for r in new:
        if key(r) not in before:
            counts["inserted"] += 1
        elif before[key(r)] != r:
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    deleted = len(before.keys() - {key(r) for r in new})
    return RegistryLoadCounts(deleted=deleted, **counts)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(snapshot=snapshots, data=st.data())
def test_rows_round_trip(
    engine: Engine, snapshot: dict[str, list[dict[str, Any]]], data: st.DataObject
) -> None:
    """Each example loads a new snapshot over the previous example's database state."""
    port = SqlRegistry(engine)
    previous = {name: port.find(name, {}) for name in REGISTRIES}

    with tempfile.TemporaryDirectory() as tmp:
        for name, rows in snapshot.items():
            write_csv(Path(tmp), name, rows)
        report = load_directory(engine, Path(tmp), force=True)  # random snapshots replace whole tables

    assert list(report.registries) == [n for n in REGISTRIES if n in snapshot]
    for name in REGISTRIES:
        registry = REGISTRIES[name]
        found = port.find(name, {})
        if name not in snapshot:
            assert found == previous[name]  # untouched
            continue
        rows = snapshot[name]
        assert report.registries[name] == _expected_counts(registry, previous[name], rows)
        assert found == sort_by_key(name, rows)
        if not rows:
            continue
        # Look-ups on a random column with some present values and one arbitrary value agree with the
        # in-memory reference adapter (up to order, which only the SQL adapter guarantees).
        column = data.draw(st.sampled_from(registry.columns), label=f"{name} column")
        present = [r[column.name] for r in rows]
        values = data.draw(st.lists(st.sampled_from(present), min_size=1, max_size=3), label="values")
        extra = data.draw(_values(column), label="extra value")
        match = {column.name: [*values, extra]}
        expected = sort_by_key(name, InMemoryRegistry({name: rows}).find(name, match))
        assert port.find(name, match) == expected
