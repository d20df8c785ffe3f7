"""store.tables builds the registry tables from the catalogue (engine.registries.REGISTRIES), and the
built-in registries' tables are the ones migration 0000 creates (tests/store/test_migrations.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import Date, Engine, Integer, Numeric, String, Table, UniqueConstraint, inspect

from engine.registries import REGISTRIES
from store.tables import ROW_ID, TABLES, ExactNumeric

LOOKUP_COLUMNS = {
    "id_number",
    "owner_id_number",
    "buyer_id_number",
    "filing_no",
    "holder_id",
    "cert_no",
    "subject_id",
    "credit_code",
    "parent_id_number",
    "child_id_number",
    "employer_credit_code",
}
ID_KINDS = {"id_number", "credit_code", "subject_id"}


def _table(name: str) -> Table:
    return TABLES[name]


def test_one_table_per_registry() -> None:
    assert list(TABLES) == list(REGISTRIES)
    for name, table in TABLES.items():
        assert table.name == name


@pytest.mark.parametrize("name", list(REGISTRIES))
def test_columns_agree_with_catalogue(name: str) -> None:
    registry = REGISTRIES[name]
    table = _table(name)
    assert [c.name for c in table.columns] == [ROW_ID, *registry.column_names]
    assert table.c[ROW_ID].primary_key
    assert [c.name for c in table.primary_key.columns] == [ROW_ID]
    for column in registry.columns:
        col = table.c[column.name]
        assert col.nullable == column.nullable, column.name
        expected: type = {
            "decimal": ExactNumeric,
            "integer": Integer,
            "date": Date,
        }.get(column.kind, String)
        assert isinstance(col.type, expected), (column.name, col.type)
        if column.kind == "decimal":
            assert isinstance(col.type, ExactNumeric)
            impl = col.type.impl
            assert isinstance(impl, Numeric) and (impl.precision, impl.scale) == (18, 4)
        if column.kind == "month":
            assert isinstance(col.type, String) and col.type.length == 7
        if column.kind in ID_KINDS:
            assert isinstance(col.type, String) and col.type.length == 18


@pytest.mark.parametrize("name", list(REGISTRIES))
def test_key_is_unique_and_not_nullable(name: str) -> None:
    registry = REGISTRIES[name]
    table = _table(name)
    uniques = [c for c in table.constraints if isinstance(c, UniqueConstraint)]
    assert [tuple(col.name for col in u.columns) for u in uniques] == [registry.key]
    for key in registry.key:
        assert not table.c[key].nullable


@pytest.mark.parametrize("name", list(REGISTRIES))
def test_lookup_columns_lead_an_index(name: str) -> None:
    """Every look-up column is the first column of an index or of the key's unique constraint."""
    table = _table(name)
    leading = {next(iter(i.columns)).name for i in table.indexes}
    leading |= {next(iter(c.columns)).name for c in table.constraints if isinstance(c, UniqueConstraint)}
    wanted = {c.name for c in table.columns if c.name in LOOKUP_COLUMNS}
    wanted |= {c.name for c in REGISTRIES[name].columns if c.kind in ID_KINDS}
    assert wanted <= leading


def test_created_schema_matches(engine: Engine) -> None:
    """The tables as created on the backend: columns, nullability, unique key, indexes."""
    insp = inspect(engine)
    assert set(REGISTRIES) <= set(insp.get_table_names())
    for name, registry in REGISTRIES.items():
        cols = {c["name"]: c for c in insp.get_columns(name)}
        assert set(cols) == {ROW_ID, *registry.column_names}
        for column in registry.columns:
            assert cols[column.name]["nullable"] == column.nullable, (name, column.name)
        uniques = [tuple(u["column_names"]) for u in insp.get_unique_constraints(name)]
        assert registry.key in uniques
        indexed = {tuple(i["column_names"]) for i in insp.get_indexes(name)}
        for index in _table(name).indexes:
            assert tuple(c.name for c in index.columns) in indexed
