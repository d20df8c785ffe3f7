"""`engine.ports.RegistryPort` over the SQL registry tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Engine, String, Table, or_, select

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

    def find(self, registry: str, match: Mapping[str, Sequence[Any]]) -> list[Row]:
        """Rows of `registry` whose column is IN the given values, for every column in `match`.

        Values are converted to the column's type (str → date/Decimal/int where the column is typed);
        None matches NULL. Rows are dicts with the catalogue's columns, ordered by the registry's key
        (strings in code-point order on every backend). An empty value list matches nothing.
        """
        reg = REGISTRIES.get(registry)
        if reg is None or registry not in TABLES:
            raise StoreError(
                f"unknown registry {registry!r}; known: {', '.join(REGISTRIES)}", code="unknown_registry"
            )
        table = TABLES[registry].__table__
        assert isinstance(table, Table)

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

        conditions: list[ColumnElement[bool]] = []
        for column, values, with_null in wanted:
            if not values and not with_null:
                return []
            parts: list[ColumnElement[bool]] = []
            if values:
                parts.append(table.c[column].in_(values))
            if with_null:
                parts.append(table.c[column].is_(None))
            conditions.append(parts[0] if len(parts) == 1 else or_(*parts))

        names = reg.column_names
        stmt = select(*(table.c[n] for n in names)).where(*conditions).order_by(*self._order(reg, table))
        with self._engine.connect() as conn:
            return [dict(zip(names, record, strict=True)) for record in conn.execute(stmt)]

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
