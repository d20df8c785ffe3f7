"""SQLAlchemy tables of the shared-data registries, built from their declarations in
`engine.registries.REGISTRIES` (docs/architecture.md §8).

One table per registry, table name = registry name: a surrogate `row_id`, the declared columns in
declared order (the SQL type follows the column's kind), a UNIQUE constraint over the registry's key
and the declared indexes (a column that leads the key is served by the unique constraint's index, so
it gets no second index). The built-in registries' tables sit on `Base.metadata`, which the migrations
follow (store/migrations/versions/0000_registries.py creates them); a registry declared elsewhere gets
a table of its own metadata, created and kept in step by store/schema.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator, TypeEngine

from engine.registries import REGISTRIES, Registry
from engine.registries import Column as RegistryColumn
from store.errors import StoreError

SCALE = 4
"""Decimal places kept for `decimal` columns (NUMERIC(18, 4))."""
PRECISION = 18
_QUANTUM = Decimal(1).scaleb(-SCALE)
_LIMIT = Decimal(10) ** (PRECISION - SCALE)


def to_numeric(value: Decimal) -> Decimal | None:
    """`value` at scale 4, or None when NUMERIC(18, 4) cannot hold it exactly."""
    if not value.is_finite():
        return None
    quantized = value.quantize(_QUANTUM)
    if quantized != value or abs(quantized) >= _LIMIT:
        return None
    return quantized


class ExactNumeric(TypeDecorator[Decimal]):
    """NUMERIC(18, 4) returned as Decimal, exact on every backend.

    PostgreSQL stores it natively. SQLite has no decimal type (SQLAlchemy's Numeric goes through float
    there and loses digits beyond ~15 significant ones), so on SQLite the value is stored as an integer
    count of 1/10000 units: exact, and SQL comparisons and sums through this type still work.
    """

    impl = Numeric(PRECISION, SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(PRECISION, SCALE))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
            raise TypeError(f"decimal column expects Decimal, int or str, got {type(value).__name__}")
        exact = to_numeric(Decimal(value))
        if exact is None:
            raise ValueError(f"{value!r} does not fit NUMERIC({PRECISION}, {SCALE}) exactly")
        if dialect.name == "sqlite":
            return int(exact.scaleb(SCALE))
        return exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-SCALE)
        return Decimal(value).quantize(_QUANTUM)


ID = 18
"""Length of resident ID numbers and unified social credit codes."""
ENUM = 32
MONTH = 7

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_key",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of the storage tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


ROW_ID = "row_id"
"""Name of the surrogate primary key column every table has."""


def sql_type(column: RegistryColumn) -> TypeEngine[Any]:
    """The SQL type a registry column of this kind is stored as."""
    kind = column.kind
    if kind in ("id_number", "credit_code", "subject_id"):
        return String(ID)
    if kind == "enum":
        return String(ENUM)
    if kind == "month":
        return String(MONTH)
    if kind == "decimal":
        return ExactNumeric()
    if kind == "integer":
        return Integer()
    if kind == "date":
        return Date()
    return String()


def build_table(registry: Registry, metadata: MetaData) -> Table:
    """The table of `registry` on `metadata`."""
    return Table(
        registry.name,
        metadata,
        Column(ROW_ID, Integer, primary_key=True, autoincrement=True),
        *(Column(c.name, sql_type(c), nullable=c.nullable) for c in registry.columns),
        UniqueConstraint(*registry.key),
        *(Index(None, *cols) for cols in registry.indexes),
        sqlite_autoincrement=True,  # row_id values are never reused (as with PostgreSQL sequences)
    )


for _name in sorted(REGISTRIES.builtin_names):
    build_table(REGISTRIES[_name], Base.metadata)


class _Tables(Mapping[str, Table]):
    """Registry name → its table, for every registry in the catalogue (declared registries' tables
    are built on first use, and again when their declaration in the catalogue changes)."""

    def __init__(self) -> None:
        self._declared: dict[str, tuple[Registry, Table]] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> Table:
        registry = REGISTRIES[name]
        if name in REGISTRIES.builtin_names:
            return Base.metadata.tables[name]
        with self._lock:
            cached = self._declared.get(name)
            if cached is not None and cached[0] == registry:
                return cached[1]
            import store.records  # noqa: F401  (the service tables, whose names a registry may not take)

            if name in Base.metadata.tables:
                raise StoreError(
                    f"共享数据库名 {name!r}（{registry.source}）与系统自身的数据表重名，请换一个名称",
                    code="registry_incompatible",
                )
            table = build_table(registry, MetaData(naming_convention=NAMING_CONVENTION))
            self._declared[name] = (registry, table)
            return table

    def __iter__(self) -> Iterator[str]:
        return iter(REGISTRIES)

    def __len__(self) -> int:
        return len(REGISTRIES)

    def __contains__(self, name: object) -> bool:
        return name in REGISTRIES


TABLES: Mapping[str, Table] = _Tables()
"""Registry name → table."""
