"""Registry tables kept in step with their declarations (docs/architecture.md §8).

A declared registry without a table gets one (key unique constraint, declared indexes). A table that
exists is compared with its declaration: a new nullable column is added and a new index created; a
column removed, retyped or made (not) nullable, a new column that is not nullable, or a changed key is
refused with a StoreError that names the registry, the column and the declaration's file, and nothing
is changed. Called when the database is migrated (`store.migrate.upgrade`), when the schema is
created (`store.db.create_schema`) and within a shared-data load, for the registries it loads.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Table, inspect
from sqlalchemy.engine import Dialect

from engine.registries import REGISTRIES, Registry
from store.errors import StoreError
from store.tables import ROW_ID, TABLES


def ensure_registry_tables(conn: Connection, names: Iterable[str] | None = None) -> list[str]:
    """Create or extend the tables of the registries `names` (default: every registry in the
    catalogue) on the connection's transaction. Returns the registries whose table was created or
    changed. Raises StoreError (code `registry_incompatible`) for a change a table cannot take."""
    wanted = list(REGISTRIES if names is None else names)
    insp = inspect(conn)
    existing = set(insp.get_table_names())
    plans: list[tuple[Table, list[Any]]] = []
    for name in wanted:
        table = TABLES[name]
        if name not in existing:
            plans.append((table, []))
            continue
        steps = _changes(conn.dialect, insp, REGISTRIES[name], table)
        if steps:
            plans.append((table, steps))
    # every table is checked before any is changed
    changed = []
    for table, steps in plans:
        if not steps:
            table.create(conn)
        for step in steps:
            if isinstance(step, str):
                conn.exec_driver_sql(step)
            else:
                step.create(conn)
        changed.append(table.name)
    return changed


def _incompatible(registry: Registry, message: str) -> StoreError:
    return StoreError(
        f"共享数据库 {registry.name}（{registry.title}）的声明 {registry.source} 与数据库中已有的表不兼容："
        f"{message}；未作任何改动",
        code="registry_incompatible",
    )


def _type_text(type_: Any, dialect: Dialect) -> str:
    return str(type_.compile(dialect=dialect)).replace(" ", "").upper()


def _changes(dialect: Dialect, insp: Any, registry: Registry, table: Table) -> list[Any]:
    """The DDL (statements and indexes) that brings an existing table to its declaration."""
    name = registry.name
    present = {c["name"]: c for c in insp.get_columns(name)}
    removed = [c for c in present if c != ROW_ID and registry.column(c) is None]
    if removed:
        raise _incompatible(
            registry,
            f"表中的列 {', '.join(removed)} 已不在声明中（删除列会丢失已载入的数据，"
            "如确需删除，请由数据库管理员处理该表）",
        )
    steps: list[Any] = []
    prep = dialect.identifier_preparer
    for column in registry.columns:
        declared = table.c[column.name]
        found = present.get(column.name)
        if found is None:
            if not column.nullable:
                raise _incompatible(
                    registry,
                    f"新增的列 {column.name} 须声明 nullable: true（表中已有的行没有该列的值）",
                )
            steps.append(
                f"ALTER TABLE {prep.format_table(table)} ADD COLUMN {prep.quote(column.name)} "
                f"{declared.type.compile(dialect=dialect)}"
            )
            continue
        if _type_text(found["type"], dialect) != _type_text(declared.type, dialect):
            raise _incompatible(
                registry,
                f"列 {column.name} 在表中为 {_type_text(found['type'], dialect)}，声明为 {column.kind}"
                f"（{_type_text(declared.type, dialect)}），不能改变已有列的类型",
            )
        if bool(found["nullable"]) != column.nullable:
            now = "可为空" if found["nullable"] else "不可为空"
            raise _incompatible(registry, f"列 {column.name} 在表中{now}，声明的 nullable 与之不同")
    uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints(name)}
    if registry.key not in uniques:
        raise _incompatible(
            registry, f"声明的记录键（{', '.join(registry.key)}）与表的唯一约束不同，不能改变已有表的记录键"
        )
    indexed = {tuple(i["column_names"]) for i in insp.get_indexes(name)}
    for index in table.indexes:
        if tuple(c.name for c in index.columns) not in indexed:
            steps.append(index)
    return steps
