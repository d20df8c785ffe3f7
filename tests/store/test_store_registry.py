"""store.registry.SqlRegistry.find: IN matching, conversions, ordering, errors."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from store_testdata import E1, E2, E3, P1, P2, P3, P4, X_ID, dataset, sort_by_key, write_dataset

from engine.ports import InMemoryRegistry, RegistryPort
from engine.registries import REGISTRIES
from store.errors import StoreError
from store.loader import load_directory
from store.registry import SqlRegistry


@pytest.fixture
def port(engine: Engine, tmp_path: Path) -> SqlRegistry:
    load_directory(engine, write_dataset(tmp_path / "data", dataset()))
    return SqlRegistry(engine)


def test_is_a_registry_port(port: SqlRegistry) -> None:
    typed: RegistryPort = port
    assert typed.find("kinship", {"child_id_number": []}) == []


def test_rows_are_plain_dicts_with_catalogue_columns(port: SqlRegistry) -> None:
    for name in REGISTRIES:
        rows = port.find(name, {})
        assert rows == sort_by_key(name, dataset()[name])
        for row in rows:
            assert type(row) is dict
            assert list(row) == list(REGISTRIES[name].column_names)


def test_in_matching_and_key_order(port: SqlRegistry) -> None:
    rows = port.find("real_estate", {"owner_id_number": [E1, P2, P1, "nobody"]})
    assert [(r["cert_no"], r["owner_id_number"]) for r in rows] == sorted(
        (r["cert_no"], r["owner_id_number"]) for r in dataset()["real_estate"]
    )
    assert [r["owner_id_number"] for r in port.find("real_estate", {"owner_id_number": [P2]})] == [P2]


def test_every_column_must_match(port: SqlRegistry) -> None:
    rows = port.find("social_insurance", {"id_number": [P1, P2], "month": ["2026-10"]})
    assert [(r["id_number"], r["month"]) for r in rows] == sorted([(P1, "2026-10"), (P2, "2026-10")])
    rows = port.find("social_insurance", {"id_number": [P1], "employer_credit_code": [E2]})
    assert rows == []


def test_order_is_code_point_order_on_every_backend(port: SqlRegistry) -> None:
    rows = port.find("credit_records", {"subject_id": [E2]})
    assert [r["reason"] for r in rows] == sorted(["拖欠工资", 'Abc, "quoted"\nsecond line'])
    rows = port.find("safety_accidents", {"credit_code": [E3]})
    assert [r["level"] for r in rows] == sorted(["一般事故", "较大事故"])


def test_empty_value_list_matches_nothing(port: SqlRegistry) -> None:
    assert port.find("population", {"id_number": []}) == []
    assert port.find("population", {"id_number": [P1], "status": []}) == []


def test_returned_types(port: SqlRegistry) -> None:
    [person] = port.find("population", {"id_number": [P1]})
    assert person["birth_date"] == date(1990, 3, 7) and type(person["birth_date"]) is date
    [accident] = port.find("safety_accidents", {"level": ["一般事故"]})
    assert accident["fatalities"] == 1 and type(accident["fatalities"]) is int
    [filing] = port.find("contract_filings", {"buyer_id_number": [P1]})
    assert filing["price_yuan"] == Decimal("12345678901234.5678")
    assert str(filing["area_m2"]) == "120.5500"
    [enterprise] = port.find("enterprises", {"credit_code": [E2]})
    assert enterprise["address"] is None and enterprise["registered_capital_yuan"] is None


@pytest.mark.parametrize(
    ("registry", "match", "expected"),
    [
        ("population", {"birth_date": ["1990-03-07"]}, [P1]),
        ("population", {"birth_date": [date(1990, 3, 7)]}, [P1]),
        ("real_estate", {"area_m2": ["89.5"]}, [P1, P2]),
        ("real_estate", {"area_m2": [Decimal("89.50000")]}, [P1, P2]),
        ("real_estate", {"area_m2": [Decimal("89.50001"), 90]}, []),  # no stored value can equal these
        ("safety_accidents", {"fatalities": ["0"]}, [E3]),
        ("safety_accidents", {"fatalities": [0, 2**40]}, [E3]),
        ("social_insurance", {"month": [date(2026, 9, 30)], "id_number": [P1]}, [P1]),
        ("enterprises", {"address": [None]}, [E2]),
        ("enterprises", {"address": [None, "北京市海淀区某路2号"]}, sorted([E1, E2])),
        ("population", {"id_number": (X_ID, P3, P4)}, sorted([X_ID, P3, P4])),
    ],
)
def test_values_are_converted_to_column_types(
    port: SqlRegistry, registry: str, match: dict[str, list[Any]], expected: list[str]
) -> None:
    subject = REGISTRIES[registry].columns[0].name
    rows = port.find(registry, match)
    assert [r[subject] if registry != "real_estate" else r["owner_id_number"] for r in rows] == expected


@pytest.mark.parametrize(
    ("registry", "match", "code"),
    [
        ("people", {}, "unknown_registry"),
        ("population", {"id": [P1]}, "unknown_column"),
        ("population", {"id_number": P1}, "bad_value"),  # a string is not a list of values
        ("population", {"birth_date": ["1990/03/07"]}, "bad_value"),
        ("population", {"birth_date": [datetime(1990, 3, 7)]}, "bad_value"),
        ("population", {"id_number": [110101199003071233]}, "bad_value"),
        ("real_estate", {"area_m2": [89.5]}, "bad_value"),
        ("safety_accidents", {"fatalities": [True]}, "bad_value"),
        ("social_insurance", {"month": ["2026-13"]}, "bad_value"),
    ],
)
def test_errors(port: SqlRegistry, registry: str, match: dict[str, Any], code: str) -> None:
    with pytest.raises(StoreError) as info:
        port.find(registry, match)
    assert info.value.code == code
    assert registry in str(info.value)


def test_agrees_with_in_memory_registry(port: SqlRegistry) -> None:
    memory = InMemoryRegistry(dataset())
    cases: list[tuple[str, dict[str, list[Any]]]] = [
        ("population", {"id_number": [P1, P2, "x"]}),
        ("marriage", {"id_number": [P1], "status": ["married"]}),
        ("kinship", {"child_id_number": [P3]}),
        ("certificates", {"holder_id": [E1, P1]}),
        ("credit_records", {"subject_id": [E2, P4], "lifted_on": [None]}),
    ]
    for registry, match in cases:
        assert port.find(registry, match) == sort_by_key(registry, memory.find(registry, match))


# -- reading look-ups ahead (prefetch): one statement, the same rows -----------------------------------

_AHEAD: list[tuple[str, dict[str, Any]]] = [
    ("population", {"id_number": [P1, P2, "x"]}),
    ("population", {"id_number": [P3]}),
    ("population", {"birth_date": ["1990-03-07"]}),
    ("marriage", {"id_number": [P1], "status": ["married"]}),
    ("kinship", {"child_id_number": [P3]}),
    ("certificates", {"holder_id": [E1, P1]}),
    ("credit_records", {"subject_id": [E2, P4], "lifted_on": [None]}),
    ("credit_records", {"subject_id": [E2]}),  # code-point order of the reasons, inside the union
    ("enterprises", {"address": [None, "北京市海淀区某路2号"]}),
    ("real_estate", {"area_m2": [Decimal("89.50000")]}),
    ("real_estate", {"area_m2": [Decimal("89.50001"), 90]}),  # nothing can equal these
    ("contract_filings", {"buyer_id_number": [P1]}),  # decimals at full precision
    ("safety_accidents", {"fatalities": [0, 2**40]}),
    ("social_insurance", {"month": [date(2026, 9, 30)], "id_number": [P1]}),
    ("population", {"id_number": []}),  # matches nothing: no query at all
]


class _Statements:
    """Counts the queries (SELECT statements) an engine sends."""

    def __init__(self, engine: Engine) -> None:
        from sqlalchemy import event

        self.count = 0
        self.texts: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                self.count += 1
                self.texts.append(statement)

        event.listen(engine, "before_cursor_execute", seen)


def test_prefetch_reads_ahead_in_one_statement_and_changes_no_answer(
    port: SqlRegistry, engine: Engine
) -> None:
    expected = [port.find(registry, match) for registry, match in _AHEAD]
    statements = _Statements(engine)
    with port.reading():
        port.prefetch(_AHEAD)
        assert statements.count == 1, statements.texts
        got = [port.find(registry, match) for registry, match in _AHEAD]
        assert statements.count == 1  # every find answered from what was read
    assert got == expected
    for rows in got:
        for row in rows:
            assert type(row) is dict
    # types as find gives them (dates, exact decimals, integers)
    by_query = dict(zip([repr(q) for q in _AHEAD], got, strict=True))
    [filing] = by_query[repr(_AHEAD[11])]
    assert filing["price_yuan"] == Decimal("12345678901234.5678") and str(filing["area_m2"]) == "120.5500"
    assert all(type(r["fatalities"]) is int for r in by_query[repr(_AHEAD[12])])


def test_prefetch_is_kept_only_inside_its_reading_block(port: SqlRegistry, engine: Engine) -> None:
    for registry, match in _AHEAD[:3]:
        port.find(registry, match)  # the tables are seen (PostgreSQL asks its catalogue the first time)
    statements = _Statements(engine)
    port.prefetch(_AHEAD[:3])  # outside reading(): nothing read ahead
    assert statements.count == 0
    with port.reading():
        port.prefetch(_AHEAD[:3])
        port.prefetch(_AHEAD[:3])  # already read: no second statement
        assert statements.count == 1
    with port.reading():
        port.find(*_AHEAD[0])  # a new block, a new snapshot: asked again
        assert statements.count == 2


def test_prefetch_leaves_refusals_to_find(port: SqlRegistry) -> None:
    with port.reading():
        port.prefetch([("people", {}), ("population", {"birth_date": ["1990/03/07"]}), _AHEAD[0]])
        with pytest.raises(StoreError) as info:
            port.find("population", {"birth_date": ["1990/03/07"]})
        assert info.value.code == "bad_value"
        assert port.find(*_AHEAD[0]) == sort_by_key(
            "population", InMemoryRegistry(dataset()).find(*_AHEAD[0])
        )
