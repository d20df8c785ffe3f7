"""Loading shared-data CSV files (DESIGN.md §3) into the registry tables.

A registry CSV is a full snapshot of that registry: loading it makes the table hold exactly the file's
rows, touching only rows that differ (matched by the registry's key). All files of one load are checked
before anything is written, and are written in one transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table, bindparam, delete, insert, select, update

from engine.registries import REGISTRIES, Registry
from store.db import SQLITE_BEGIN
from store.errors import DataLoadError
from store.tables import ROW_ID, TABLES
from store.values import CellProblem, parse_cell

Key = tuple[Any, ...]
ParsedRows = dict[Key, dict[str, Any]]

_BATCH = 500
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RegistryLoadCounts:
    """What loading one registry file changed."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    @property
    def rows(self) -> int:
        """Rows in the file."""
        return self.inserted + self.updated + self.unchanged

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated or self.deleted)


@dataclass(frozen=True, slots=True)
class LoadReport:
    """Counts per loaded registry, in catalogue order; registries without a file are absent."""

    directory: Path
    registries: dict[str, RegistryLoadCounts] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.registries.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "directory": str(self.directory),
            "registries": {
                name: {
                    "file": f"{name}.csv",
                    "rows": c.rows,
                    "inserted": c.inserted,
                    "updated": c.updated,
                    "deleted": c.deleted,
                    "unchanged": c.unchanged,
                }
                for name, c in self.registries.items()
            },
        }


def load_directory(engine: Engine, directory: Path) -> LoadReport:
    """Load every `<registry>.csv` in `directory` in one transaction; see the module docstring.

    Raises DataLoadError (nothing written) for an unknown `.csv` file, a bad header, a bad cell or a
    duplicate key. The tables must exist (store.db.create_schema).
    """
    files = registry_files(directory)
    parsed = {name: read_registry_file(REGISTRIES[name], path) for name, path in files.items()}
    if not parsed:
        return LoadReport(directory=directory)
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # Take the write lock up front so the comparison below sees what we then overwrite.
            conn = conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        with conn.begin():
            _lock_tables(conn, [_table(name) for name in parsed])
            counts = {name: _sync(conn, REGISTRIES[name], rows) for name, rows in parsed.items()}
    return LoadReport(directory=directory, registries=counts)


def registry_files(directory: Path) -> dict[str, Path]:
    """The registry files in `directory`, in catalogue order; an unknown `.csv` file is an error."""
    if not directory.is_dir():
        raise DataLoadError(
            file=str(directory),
            message="目录不存在或不是目录",
            message_en="no such directory",
            code="not_a_directory",
        )
    found: dict[str, Path] = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.suffix.lower() != ".csv":
            continue
        if path.suffix != ".csv" or path.stem not in REGISTRIES:
            known = ", ".join(f"{n}.csv" for n in REGISTRIES)
            raise DataLoadError(
                file=path.name,
                message=f"未知的共享数据文件（可用文件名：{known}）",
                message_en=f"unknown shared-data file (known files: {known})",
                code="unknown_file",
            )
        found[path.stem] = path
    return {name: found[name] for name in REGISTRIES if name in found}


def read_registry_file(registry: Registry, path: Path) -> ParsedRows:
    """The rows of one registry CSV keyed by the registry's key, every cell checked and typed."""
    name = path.name
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataLoadError(
            file=name,
            line=raw[: exc.start].count(b"\n") + 1,
            message="文件不是 UTF-8 编码",
            message_en="file is not UTF-8 encoded",
            code="bad_encoding",
        ) from exc
    records = _records(name, text)
    header = next(records, None)
    if header is None or not header[1]:
        raise DataLoadError(
            file=name,
            line=1,
            message="文件为空，缺少表头",
            message_en="empty file, header row missing",
            code="bad_header",
        )
    positions = _header_positions(registry, name, header[1])
    width = len(registry.columns)
    rows: ParsedRows = {}
    first_line: dict[Key, int] = {}
    for line, cells in records:
        if not cells:
            continue  # blank line
        if len(cells) != width:
            raise DataLoadError(
                file=name,
                line=line,
                message=f"应有 {width} 列，实际为 {len(cells)} 列",
                message_en=f"expected {width} cells, got {len(cells)}",
                code="wrong_cell_count",
            )
        row = {
            c.name: _cell(registry, c.name, cells[positions[c.name]].strip(), name, line)
            for c in registry.columns
        }
        key = tuple(row[k] for k in registry.key)
        if key in rows:
            cols = ", ".join(registry.key)
            raise DataLoadError(
                file=name,
                line=line,
                message=f"记录键（{cols}）与第{first_line[key]}行重复",
                message_en=f"duplicate key ({cols}), same as line {first_line[key]}",
                code="duplicate_key",
            )
        rows[key] = row
        first_line[key] = line
    return rows


def _records(name: str, text: str) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, cells) for each CSV record."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataLoadError(
                file=name,
                line=max(reader.line_num, start),
                message=f"CSV 格式错误：{exc}",
                message_en=f"malformed CSV: {exc}",
                code="bad_csv",
            ) from exc
        yield start, cells


def _header_positions(registry: Registry, name: str, header: Sequence[str]) -> dict[str, int]:
    names = [h.strip() for h in header]
    expected = registry.column_names
    duplicates = sorted({n for n in names if names.count(n) > 1})
    missing = [c for c in expected if c not in names]
    unknown = [n for n in names if n not in expected]
    if duplicates or missing or unknown:
        zh: list[str] = []
        en: list[str] = []
        if missing:
            zh.append(f"缺少列 {', '.join(missing)}")
            en.append(f"missing {', '.join(missing)}")
        if unknown:
            zh.append(f"未知列 {', '.join(repr(u) for u in unknown)}")
            en.append(f"unknown {', '.join(repr(u) for u in unknown)}")
        if duplicates:
            zh.append(f"重复列 {', '.join(duplicates)}")
            en.append(f"repeated {', '.join(duplicates)}")
        raise DataLoadError(
            file=name,
            line=1,
            column=(missing or unknown or duplicates)[0],
            message=f"表头应恰好包含 {', '.join(expected)}：{'；'.join(zh)}",
            message_en=f"header must hold exactly {', '.join(expected)}: {'; '.join(en)}",
            code="bad_header",
        )
    return {n: i for i, n in enumerate(names)}


def _cell(registry: Registry, column: str, text: str, name: str, line: int) -> Any:
    col = registry.column(column)
    assert col is not None
    if text == "":
        if col.nullable:
            return None
        raise DataLoadError(
            file=name,
            line=line,
            column=column,
            message="该列不能为空",
            message_en="a value is required",
            code="missing_value",
        )
    try:
        return parse_cell(col, text)
    except CellProblem as problem:
        raise DataLoadError(
            file=name,
            line=line,
            column=column,
            message=problem.message,
            message_en=problem.message_en,
            code=problem.code,
        ) from None


def _table(registry: str) -> Table:
    table = TABLES[registry].__table__
    assert isinstance(table, Table)
    return table


def _lock_tables(conn: Connection, tables: list[Table]) -> None:
    """Keep concurrent loads of the same registries apart (readers are not blocked)."""
    if conn.dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE already holds the database's write lock
    names = ", ".join(
        conn.dialect.identifier_preparer.format_table(t) for t in sorted(tables, key=lambda t: t.name)
    )
    conn.exec_driver_sql(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")


def _sync(conn: Connection, registry: Registry, rows: ParsedRows) -> RegistryLoadCounts:
    """Make `registry`'s table hold exactly `rows`, writing only the difference."""
    table = _table(registry.name)
    names = registry.column_names
    existing: dict[Key, tuple[int, dict[str, Any]]] = {}
    for record in conn.execute(select(table.c[ROW_ID], *(table.c[n] for n in names))):
        values = {n: record._mapping[n] for n in names}
        existing[tuple(values[k] for k in registry.key)] = (record._mapping[ROW_ID], values)

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    unchanged = 0
    settable = [n for n in names if n not in registry.key]
    for key, row in rows.items():
        old = existing.pop(key, None)
        if old is None:
            inserts.append(row)
        elif old[1] != row:
            updates.append({"b_row_id": old[0], **{f"b_{n}": row[n] for n in settable}})
        else:
            unchanged += 1
    deletes = [row_id for row_id, _ in existing.values()]

    for ids in _chunks(deletes):
        conn.execute(delete(table).where(table.c[ROW_ID].in_(ids)))
    if updates:
        stmt = (
            update(table)
            .where(table.c[ROW_ID] == bindparam("b_row_id"))
            .values({n: bindparam(f"b_{n}", type_=table.c[n].type) for n in settable})
        )
        for params in _chunks(updates):
            conn.execute(stmt, params)
    for params in _chunks(inserts):
        conn.execute(insert(table), params)
    return RegistryLoadCounts(
        inserted=len(inserts), updated=len(updates), deleted=len(deletes), unchanged=unchanged
    )


def _chunks(items: list[_T]) -> Iterator[list[_T]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]
