"""`engine.ports.RegistryPort` over the SQL registry tables."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Engine, String, Table, bindparam, func, inspect, or_, select

from engine.ports import Row
from engine.registries import REGISTRIES, Column, Registry
from store.errors import StoreError
from store.tables import TABLES, to_numeric
from store.values import INT_MAX, INT_MIN, CellProblem, parse_date, parse_decimal, parse_integer, parse_month

_TEXT_KINDS = frozenset({"string", "id_number", "credit_code", "subject_id", "enum"})


class _Never:
    """A look-up value that no stored value can equal (e.g. a decimal with 5 places)."""


_NEVER = _Never()


class SqlRegistry:
    """Reads registry rows with one SELECT per look-up; see RegistryPort.find."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._statements: dict[tuple[str, tuple[tuple[str, int, bool], ...]], Any] = {}
        self._local = threading.local()
        self._present: set[str] = set()
        """Registries whose table was seen in the database."""

    def _check_present(self, registry: str) -> None:
        """A declared registry whose table was never created (nothing loaded yet) is a clear error,
        not a database error half-way through a decision."""
        conn = getattr(self._local, "conn", None)
        if not inspect(conn if conn is not None else self._engine).has_table(registry):
            raise StoreError(
                f"共享数据库 {registry} 在数据库中还没有数据表"
                f"（请先用 miaopi data load 载入 {registry}.csv）",
                code="unknown_registry",
            )
        self._present.add(registry)

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Serve every look-up inside the block from one connection and one transaction: a decision
        sees one consistent snapshot of the registries, and pays for one connection, not one per
        look-up."""
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with self._engine.connect() as conn:
            self._local.conn = conn
            try:
                yield
            finally:
                self._local.conn = None

    def find(self, registry: str, match: Mapping[str, Sequence[Any]]) -> list[Row]:
        """Rows of `registry` whose column is IN the given values, for every column in `match`.

        Values are converted to the column's type (str → date/Decimal/int where the column is typed);
        None matches NULL. Rows are dicts with the catalogue's columns, ordered by the registry's key
        (strings in code-point order on every backend). An empty value list matches nothing.
        """
        reg = REGISTRIES.get(registry)
        if reg is None:
            raise StoreError(
                f"unknown registry {registry!r}; known: {', '.join(REGISTRIES)}", code="unknown_registry"
            )
        table = TABLES[registry]
        if registry not in self._present:
            self._check_present(registry)

        wanted: list[tuple[str, list[Any], bool]] = []
        for column, values in match.items():
            col = reg.column(column)
            if col is None:
                raise StoreError(
                    f"registry {registry!r} has no column {column!r}; columns: {', '.join(reg.column_names)}",
                    code="unknown_column",
                )
            if isinstance(values, str | bytes) or not isinstance(values, Sequence | set | frozenset):
                raise StoreError(
                    f"values for {registry}.{column} must be a list of values, got {type(values).__name__}",
                    code="bad_value",
                )
            converted = [_convert(registry, col, v) for v in values if v is not None]
            wanted.append((column, [v for v in converted if v is not _NEVER], any(v is None for v in values)))

        for _column, values, with_null in wanted:
            if not values and not with_null:
                return []
        # a column matched against one value compares with `=` (no IN list to expand per call)
        shape = tuple((column, min(len(values), 2), with_null) for column, values, with_null in wanted)
        stmt = self._statements.get((registry, shape))
        if stmt is None:
            stmt = self._statement(reg, table, shape)
            self._statements[(registry, shape)] = stmt
        params = {
            f"v_{column}": values[0] if len(values) == 1 else values for column, values, _ in wanted if values
        }
        names = reg.column_names
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return [dict(zip(names, record, strict=True)) for record in conn.execute(stmt, params)]
        with self._engine.connect() as own:
            return [dict(zip(names, record, strict=True)) for record in own.execute(stmt, params)]

    def head(self, registry: str, *, limit: int) -> tuple[int, list[Row]]:
        """How many rows `registry` holds, and the first `limit` of them in key order (a list view)."""
        reg = REGISTRIES.get(registry)
        if reg is None:
            raise StoreError(
                f"unknown registry {registry!r}; known: {', '.join(REGISTRIES)}", code="unknown_registry"
            )
        self._check_present(registry)
        table = TABLES[registry]
        names = reg.column_names
        with self._engine.connect() as conn:
            total = conn.scalar(select(func.count()).select_from(table)) or 0
            stmt = select(*(table.c[n] for n in names)).order_by(*self._order(reg, table)).limit(limit)
            rows: list[Row] = [dict(zip(names, record, strict=True)) for record in conn.execute(stmt)]
        return total, rows

    def _statement(self, reg: Registry, table: Table, shape: tuple[tuple[str, int, bool], ...]) -> Any:
        """The SELECT for one shape of look-up (per column: no value, one value, or a list of them,
        as an expanding parameter): built once, reused."""
        conditions: list[ColumnElement[bool]] = []
        for column, values, with_null in shape:
            parts: list[ColumnElement[bool]] = []
            if values == 1:
                parts.append(table.c[column] == bindparam(f"v_{column}"))
            elif values:
                parts.append(table.c[column].in_(bindparam(f"v_{column}", expanding=True)))
            if with_null:
                parts.append(table.c[column].is_(None))
            conditions.append(parts[0] if len(parts) == 1 else or_(*parts))
        return (
            select(*(table.c[n] for n in reg.column_names))
            .where(*conditions)
            .order_by(*self._order(reg, table))
        )

    def _order(self, reg: Registry, table: Table) -> list[ColumnElement[Any]]:
        order: list[ColumnElement[Any]] = []
        for name in reg.key:
            col: ColumnElement[Any] = table.c[name]
            if self._engine.dialect.name == "postgresql" and isinstance(table.c[name].type, String):
                col = col.collate("C")  # byte order = code-point order, as in SQLite and Python
            order.append(col)
        return order


def _convert(registry: str, column: Column, value: Any) -> Any:
    """`value` as the column's Python type, _NEVER when no stored value can equal it."""
    kind = column.kind
    try:
        if kind in _TEXT_KINDS:
            if isinstance(value, str):
                return value
        elif kind == "date":
            if isinstance(value, date) and not isinstance(value, datetime):
                return value
            if isinstance(value, str):
                return parse_date(value)
        elif kind == "month":
            if isinstance(value, date) and not isinstance(value, datetime):
                return f"{value.year:04d}-{value.month:02d}"
            if isinstance(value, str):
                return parse_month(value)
        elif kind == "decimal":
            if isinstance(value, Decimal | int) and not isinstance(value, bool):
                exact = to_numeric(Decimal(value))
                return _NEVER if exact is None else exact
            if isinstance(value, str):
                try:
                    return parse_decimal(value)
                except CellProblem as problem:
                    if problem.code == "decimal_out_of_range":
                        return _NEVER
                    raise
        elif kind == "integer":
            if isinstance(value, int) and not isinstance(value, bool):
                return value if INT_MIN <= value <= INT_MAX else _NEVER
            if isinstance(value, str):
                try:
                    return parse_integer(value)
                except CellProblem as problem:
                    if problem.code == "integer_out_of_range":
                        return _NEVER
                    raise
    except CellProblem as problem:
        raise StoreError(f"{registry}.{column.name}: {problem.message_en}", code="bad_value") from None
    raise StoreError(
        f"{registry}.{column.name} ({kind}) cannot be compared with {type(value).__name__} {value!r}",
        code="bad_value",
    )
