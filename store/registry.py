"""`engine.ports.RegistryPort` over the SQL registry tables."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Integer,
    Select,
    String,
    Table,
    bindparam,
    cast,
    func,
    inspect,
    literal,
    null,
    or_,
    select,
    union_all,
)

from engine.ports import Row
from engine.registries import REGISTRIES, Column, Registry
from store.errors import StoreError
from store.tables import TABLES, to_numeric
from store.values import INT_MAX, INT_MIN, CellProblem, parse_date, parse_decimal, parse_integer, parse_month

_TEXT_KINDS = frozenset({"string", "id_number", "credit_code", "subject_id", "enum"})


class _Never:
    """A look-up value that no stored value can equal (e.g. a decimal with 5 places)."""


_NEVER = _Never()


_Shape = tuple[tuple[str, int, bool], ...]
"""Per column of a look-up: its name, how many values (0, 1, or 2 for a list) and whether NULL matches."""
_Prepared = tuple[Registry, Table, _Shape, dict[str, Any]]
"""A look-up ready to run: its registry and table, its shape and its parameters (by column)."""
_UNION_MAX = 48
"""At most this many look-ups in one statement (a large batch of decisions reads ahead in several)."""
_Key = tuple[str, tuple[tuple[str, tuple[Any, ...]], ...]]
"""A look-up as asked (registry, then each column's values in the order given), for the cache."""


def _key(registry: str, match: Mapping[str, Sequence[Any]]) -> _Key | None:
    try:
        key: _Key = (registry, tuple([(col, tuple(values)) for col, values in match.items()]))
        hash(key)
    except TypeError:  # an unhashable value: asked on its own, when find() comes
        return None
    return key


class SqlRegistry:
    """Reads registry rows with one SELECT per look-up; see RegistryPort.find. Inside `reading()`, the
    look-ups announced together with `prefetch` are read in one statement, and `find` answers them
    from what that statement returned (the same rows: same snapshot, same SQL conditions)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._statements: dict[tuple[str, tuple[tuple[str, int, bool], ...]], Any] = {}
        self._combined_statements: dict[
            tuple[tuple[str, _Shape], ...], tuple[Select[Any], dict[str, int]]
        ] = {}
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
        """Serve every look-up inside the block from one connection, and the look-ups read ahead
        (`prefetch`) from what they read: a decision pays for one connection, not one per look-up.
        On SQLite the block is one transaction, so the decision sees one snapshot of the registries.
        On PostgreSQL (READ COMMITTED: each statement sees what was committed when it began, inside
        a transaction or not) the connection runs in autocommit, which spares the BEGIN and ROLLBACK
        round trips and changes nothing that is read; the look-ups read ahead together are one
        statement, so they see one snapshot."""
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with self._engine.connect() as conn:
            if self._engine.dialect.name == "postgresql":
                conn.execution_options(isolation_level="AUTOCOMMIT")
            self._local.conn = conn
            self._local.cache = {}
            try:
                yield
            finally:
                self._local.conn = None
                self._local.cache = None

    def find(self, registry: str, match: Mapping[str, Sequence[Any]]) -> list[Row]:
        """Rows of `registry` whose column is IN the given values, for every column in `match`.

        Values are converted to the column's type (str → date/Decimal/int where the column is typed);
        None matches NULL. Rows are dicts with the catalogue's columns, ordered by the registry's key
        (strings in code-point order on every backend). An empty value list matches nothing.
        """
        cache = getattr(self._local, "cache", None)
        if cache:
            key = _key(registry, match)
            rows = cache.get(key) if key is not None else None
            if rows is not None:
                return [dict(r) for r in rows]
        prepared = self._prepare(registry, match)
        if prepared is None:
            return []
        reg, table, shape, params = prepared
        stmt = self._statements.get((registry, shape))
        if stmt is None:
            stmt = self._statement(reg, table, shape)
            self._statements[(registry, shape)] = stmt
        names = reg.column_names
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return [dict(zip(names, record, strict=True)) for record in conn.execute(stmt, params)]
        with self._engine.connect() as own:
            return [dict(zip(names, record, strict=True)) for record in own.execute(stmt, params)]

    def prefetch(self, queries: Sequence[tuple[str, Mapping[str, Sequence[Any]]]]) -> None:
        """Read the rows of several look-ups (of one decision or of a batch) in one statement, kept
        until the end of the `reading()` block for the `find` calls that ask them. Outside a
        `reading()` block, and for a look-up that `find` would refuse, nothing is read ahead: `find`
        then asks (or refuses) on its own, as without a prefetch."""
        conn = getattr(self._local, "conn", None)
        cache = getattr(self._local, "cache", None)
        if conn is None or cache is None:
            return
        todo: list[tuple[_Key, _Prepared]] = []
        seen: set[_Key] = set()
        for registry, match in queries:
            key = _key(registry, match)
            if key is None or key in cache or key in seen:
                continue
            try:
                prepared = self._prepare(registry, match)
            except StoreError:
                continue
            seen.add(key)
            if prepared is None:
                cache[key] = []
            else:
                todo.append((key, prepared))
        if not todo:
            return
        for at in range(0, len(todo), _UNION_MAX):
            self._read_ahead(conn, cache, todo[at : at + _UNION_MAX])

    def _read_ahead(
        self, conn: Any, cache: dict[_Key, list[Row]], todo: list[tuple[_Key, _Prepared]]
    ) -> None:
        """Several look-ups in one statement; their rows into the cache."""
        if len(todo) == 1:  # one look-up: its own statement
            ((key, (reg, table, shape, params)),) = todo
            stmt = self._statements.get((reg.name, shape))
            if stmt is None:
                stmt = self._statements[(reg.name, shape)] = self._statement(reg, table, shape)
            names = reg.column_names
            cache[key] = [dict(zip(names, record, strict=True)) for record in conn.execute(stmt, params)]
            return
        shapes = tuple((reg.name, shape) for _k, (reg, _t, shape, _p) in todo)
        entry = self._combined_statements.get(shapes)
        if entry is None:
            entry = self._combined_statements[shapes] = self._combined(
                [(reg, table, shape) for _k, (reg, table, shape, _p) in todo]
            )
        stmt, blocks = entry
        params = {
            f"q{i}_{name}": value
            for i, (_k, (*_r, qparams)) in enumerate(todo)
            for name, value in qparams.items()
        }
        answers: list[list[Row]] = [[] for _ in todo]
        spans = [(todo[q][1][0].column_names, blocks[todo[q][1][0].name]) for q in range(len(todo))]
        for record in conn.execute(stmt, params):
            q = record[0]
            names, start = spans[q]
            answers[q].append(dict(zip(names, record[start : start + len(names)], strict=True)))
        for (key, _p), rows in zip(todo, answers, strict=True):
            cache[key] = rows

    def _prepare(self, registry: str, match: Mapping[str, Sequence[Any]]) -> _Prepared | None:
        """A look-up checked and its values converted; None when it can match nothing."""
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
                return None
        # a column matched against one value compares with `=` (no IN list to expand per call)
        shape = tuple((column, min(len(values), 2), with_null) for column, values, with_null in wanted)
        params = {
            f"v_{column}": values[0] if len(values) == 1 else values for column, values, _ in wanted if values
        }
        return reg, table, shape, params

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

    def _conditions(self, table: Table, shape: _Shape, prefix: str = "") -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        for column, values, with_null in shape:
            parts: list[ColumnElement[bool]] = []
            name = f"{prefix}v_{column}"
            if values == 1:
                parts.append(table.c[column] == bindparam(name))
            elif values:
                parts.append(table.c[column].in_(bindparam(name, expanding=True)))
            if with_null:
                parts.append(table.c[column].is_(None))
            conditions.append(parts[0] if len(parts) == 1 else or_(*parts))
        return conditions

    def _statement(self, reg: Registry, table: Table, shape: _Shape) -> Any:
        """The SELECT for one shape of look-up (per column: no value, one value, or a list of them,
        as an expanding parameter): built once, reused."""
        return (
            select(*(table.c[n] for n in reg.column_names))
            .where(*self._conditions(table, shape))
            .order_by(*self._order(reg, table))
        )

    def _combined(
        self, lookups: Sequence[tuple[Registry, Table, _Shape]]
    ) -> tuple[Select[Any], dict[str, int]]:
        """One SELECT for several look-ups: a UNION ALL of each look-up's own conditions, tagged with
        its position `q`. Each registry has its block of columns in the row (typed NULLs in the
        branches of other registries), so look-ups of different registries share the statement; the
        rows come back by `q`, then in each registry's key order, as `_statement` orders them.
        Returns the statement and where each registry's block starts in a row."""
        tables: dict[str, tuple[Registry, Table]] = {}
        for reg, table, _shape in lookups:
            tables.setdefault(reg.name, (reg, table))
        blocks: dict[str, int] = {}
        at = 1
        for name, (reg, _table) in tables.items():
            blocks[name] = at
            at += len(reg.column_names)
        branches = []
        for i, (reg, table, shape) in enumerate(lookups):
            columns: list[Any] = [literal(i, Integer).label("q")]
            for other_name, (other, other_table) in tables.items():
                for n in other.column_names:
                    label = f"{other_name}__{n}"
                    if other_name == reg.name:
                        columns.append(table.c[n].label(label))
                    else:
                        columns.append(cast(null(), other_table.c[n].type).label(label))
            branches.append(select(*columns).where(*self._conditions(table, shape, prefix=f"q{i}_")))
        combined = union_all(*branches).subquery("lookups")
        order: list[ColumnElement[Any]] = [combined.c.q]
        for other_name, (other, other_table) in tables.items():
            for n in other.key:
                col: ColumnElement[Any] = combined.c[f"{other_name}__{n}"]
                if self._engine.dialect.name == "postgresql" and isinstance(other_table.c[n].type, String):
                    col = col.collate("C")
                order.append(col)
        return select(combined).order_by(*order), blocks

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
