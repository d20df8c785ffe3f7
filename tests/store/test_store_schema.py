"""Tables of declared registries (store/schema.py), on SQLite and PostgreSQL: created with their key and
indexes, extended by a new nullable column, and never changed in a way that loses or breaks data."""

from __future__ import annotations

import textwrap
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine, insert, inspect, select
from store_testdata import resident_id

from engine.registries import REGISTRIES, parse_registry
from store.db import create_schema
from store.errors import StoreError
from store.migrate import upgrade
from store.registry import SqlRegistry
from store.schema import ensure_registry_tables
from store.tables import TABLES, Base

DECLARATION = textwrap.dedent(
    """\
    name: education_records
    title: 学历学位信息库
    columns:
      id_number: {type: id_number, title: 身份证号码, personal: true}
      school: {type: string, title: 毕业院校}
      degree: {type: enum, title: 学历, labels: {bachelor: 本科, master: 硕士研究生}}
      graduated_on: {type: date, title: 毕业日期}
      credits: {type: decimal, title: 学分}
    key: [id_number, graduated_on]
    indexes: [school]
    """
)
P1 = resident_id(seq=1)


def declare(text: str = DECLARATION) -> None:
    """Put this declaration of education_records in the catalogue (replacing an earlier one)."""
    snapshot = REGISTRIES.snapshot()
    snapshot.pop("education_records", None)
    REGISTRIES.restore(snapshot)
    REGISTRIES.add(parse_registry(text, source="registries/education_records.yaml"))


def ensure(engine: Engine) -> list[str]:
    with engine.begin() as conn:
        return ensure_registry_tables(conn)


def add_row(engine: Engine, **extra: object) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(TABLES["education_records"]).values(
                {
                    "id_number": P1,
                    "school": "四川大学",
                    "degree": "master",
                    "graduated_on": date(2026, 6, 30),
                    "credits": Decimal("120.5"),
                    **extra,
                }
            )
        )


def test_a_declared_registry_gets_its_table_with_key_and_indexes(engine: Engine) -> None:
    declare()
    assert ensure(engine) == ["education_records"]
    insp = inspect(engine)
    columns = {c["name"]: c for c in insp.get_columns("education_records")}
    assert list(columns) == ["row_id", "id_number", "school", "degree", "graduated_on", "credits"]
    assert not any(columns[c]["nullable"] for c in ("id_number", "school", "degree"))
    assert ("id_number", "graduated_on") in [
        tuple(u["column_names"]) for u in insp.get_unique_constraints("education_records")
    ]
    assert ("school",) in [tuple(i["column_names"]) for i in insp.get_indexes("education_records")]
    assert ensure(engine) == []  # nothing left to do
    add_row(engine)
    rows = SqlRegistry(engine).find("education_records", {"id_number": [P1]})
    assert [(r["degree"], str(r["credits"]), r["graduated_on"].isoformat()) for r in rows] == [
        ("master", "120.5000", "2026-06-30")
    ]


def test_creating_the_schema_creates_declared_tables(engine: Engine) -> None:
    declare()
    create_schema(engine)
    assert inspect(engine).has_table("education_records")


def test_migrating_to_the_head_creates_declared_tables(engine: Engine) -> None:
    Base.metadata.drop_all(engine)
    declare()
    upgrade(engine)
    assert inspect(engine).has_table("cases") and inspect(engine).has_table("education_records")
    upgrade(engine)  # again: the declared table is checked, not created twice
    assert ensure(engine) == []


def test_a_new_nullable_column_is_added_and_the_rows_are_kept(engine: Engine) -> None:
    declare()
    ensure(engine)
    add_row(engine)
    declare(DECLARATION.replace("key:", "  remark: {type: string, title: 备注, nullable: true}\nkey:"))
    assert ensure(engine) == ["education_records"]
    rows = SqlRegistry(engine).find("education_records", {"id_number": [P1]})
    assert [(r["school"], r["remark"]) for r in rows] == [("四川大学", None)]
    add_row(engine, graduated_on=date(2023, 6, 30), remark="第二学位")
    with engine.connect() as conn:
        remarks = conn.scalars(select(TABLES["education_records"].c.remark)).all()
    assert sorted(remarks, key=lambda v: v or "") == [None, "第二学位"]


def test_a_new_index_is_created(engine: Engine) -> None:
    declare()
    ensure(engine)
    declare(DECLARATION.replace("indexes: [school]", "indexes: [school, degree]"))
    assert ensure(engine) == ["education_records"]
    indexed = [tuple(i["column_names"]) for i in inspect(engine).get_indexes("education_records")]
    assert ("degree",) in indexed and ("school",) in indexed


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  credits: {type: decimal, title: 学分}\n", "", "列 credits 已不在声明中"),
        ("credits: {type: decimal,", "credits: {type: integer,", "列 credits 在表中为"),
        (
            "credits: {type: decimal, title: 学分}",
            "credits: {type: decimal, title: 学分, nullable: true}",
            "nullable",
        ),
        ("key:", "  level: {type: string, title: 层次}\nkey:", "新增的列 level 须声明 nullable: true"),
        ("key: [id_number, graduated_on]", "key: [id_number, school]", "记录键"),
    ],
)
def test_an_incompatible_declaration_is_refused_and_nothing_changes(
    engine: Engine, old: str, new: str, message: str
) -> None:
    declare()
    ensure(engine)
    add_row(engine)
    before = [(c["name"], str(c["type"])) for c in inspect(engine).get_columns("education_records")]
    declare(DECLARATION.replace(old, new))
    with pytest.raises(StoreError) as info:
        ensure(engine)
    assert info.value.code == "registry_incompatible"
    assert message in info.value.message
    assert "registries/education_records.yaml" in info.value.message and "未作任何改动" in info.value.message
    assert [(c["name"], str(c["type"])) for c in inspect(engine).get_columns("education_records")] == before


def test_a_registry_may_not_take_the_name_of_a_service_table(engine: Engine) -> None:
    REGISTRIES.add(parse_registry(DECLARATION.replace("education_records", "cases"), source="cases.yaml"))
    with pytest.raises(StoreError, match="与系统自身的数据表重名"):
        ensure(engine)


def test_a_declared_registry_without_a_table_is_a_clear_error_for_look_ups(engine: Engine) -> None:
    declare()
    with pytest.raises(StoreError) as info:
        SqlRegistry(engine).find("education_records", {"id_number": [P1]})
    assert "miaopi data load" in info.value.message and info.value.code == "unknown_registry"


def test_the_built_in_tables_pass_the_check_unchanged(engine: Engine) -> None:
    """The tables the fixture created agree with the built-in declarations: nothing to create or add."""
    assert ensure(engine) == []
