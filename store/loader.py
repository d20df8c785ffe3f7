"""Loading shared-data CSV files into the registry tables.

Three modes, chosen per load:
- `replace` (the default): the file is a full snapshot of that registry; loading it makes the table hold
  exactly the file's rows, touching only rows that differ (matched by the registry's key). A load that
  would delete more than `max_delete_share` of a registry's rows is refused unless forced: a partial
  file loaded by mistake never empties a registry silently.
- `upsert`: rows of the file are added or changed by key; nothing is deleted.
- `append`: rows of the file are added; a key already in the registry is an error.

A registry not declared yet is declared by a file beside its CSV: `DIR/<name>.yaml` (the declaration
format of docs/architecture.md §8), added to the catalogue before the files are read; its table is
created (or a new nullable column added) in the load's own transaction (store/schema.py), so a load
that fails or a dry run leaves no table behind.

Files are read as streams into per-load staging tables (temporary, private to the loading connection),
so memory stays bounded whatever the file's size; the difference to the registry is then computed and
applied by the database in one transaction under the registries' write lock. Every file is checked
before anything is written, and a dry run computes the same counts and writes nothing.

Why one module of this length: reading, checking, staging and applying a load are one transaction's
steps."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    Table,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from engine.registries import DECLARATION_SUFFIX, REGISTRIES, Registry
from store.db import SQLITE_BEGIN
from store.declarations import declaration_files, read_declaration
from store.errors import DataLoadError
from store.schema import ensure_registry_tables
from store.tables import TABLES
from store.values import CellProblem, parse_cell

Key = tuple[Any, ...]
ParsedRows = dict[Key, dict[str, Any]]
Mode = Literal["replace", "upsert", "append"]
MODES: tuple[Mode, ...] = ("replace", "upsert", "append")

DEFAULT_MAX_DELETE_SHARE = 0.5
"""In `replace` mode, the largest share of a registry's rows one load may delete without `force`."""

_BATCH = 1000
MAX_LINE_BYTES = 2**20
"""The longest physical line read: a file is read a line at a time, so a line without end (a file
with no line breaks) would otherwise be held whole in memory (a 20 MiB line took the loader's peak
from 75 to 154 MiB). A field is limited further by the csv module (131,072 characters)."""
_LINE = "_line"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RegistryLoadCounts:
    """What loading one registry file changed (or, in a dry run, would change)."""

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
    mode: Mode = "replace"
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.registries.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "directory": str(self.directory),
            "mode": self.mode,
            "dry_run": self.dry_run,
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


def load_directory(
    engine: Engine,
    directory: Path,
    *,
    mode: Mode = "replace",
    dry_run: bool = False,
    max_delete_share: float = DEFAULT_MAX_DELETE_SHARE,
    force: bool = False,
) -> LoadReport:
    """Load every `<registry>.csv` in `directory` in one transaction; see the module docstring.

    Raises DataLoadError (nothing written) for an unknown `.csv` file, a bad header, a bad cell, a
    duplicate key, a key already present (append), or too many deletions (replace, without `force`);
    RulesetError for a declaration beside the files that is invalid or contradicts the catalogue;
    StoreError for a declaration its existing table cannot take. The tables of the service and the
    built-in registries must exist (store.migrate.upgrade or store.db.create_schema); a declared
    registry's table is created here when missing.
    """
    if mode not in MODES:
        raise ValueError(f"unknown load mode {mode!r} (one of {', '.join(MODES)})")
    if not 0 <= max_delete_share <= 1:
        raise ValueError("max_delete_share must lie between 0 and 1")
    files = registry_files(directory)
    if not files:
        return LoadReport(directory=directory, mode=mode, dry_run=dry_run)
    with engine.connect() as conn:
        staged: dict[str, Table] = {}
        try:
            # Staging writes only the connection's private temporary tables: no registry is locked
            # while the files are read and checked.
            for name, path in files.items():
                with conn.begin():
                    staged[name] = _stage(conn, REGISTRIES[name], path)
            if conn.dialect.name == "sqlite":
                # Take the write lock up front so the comparison below sees what we then overwrite.
                conn = conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
            with conn.begin() as tx:
                ensure_registry_tables(conn, list(staged))
                _lock_tables(conn, [_table(name) for name in staged])
                counts: dict[str, RegistryLoadCounts] = {}
                for name, staging in staged.items():
                    registry = REGISTRIES[name]
                    counts[name] = _count(conn, registry, staging, mode=mode)
                    if mode == "replace" and not force:
                        _check_deletions(conn, registry, counts[name], max_delete_share)
                if dry_run:
                    tx.rollback()
                else:
                    for name, staging in staged.items():
                        _apply(conn, REGISTRIES[name], staging, mode=mode)
        finally:
            if conn.in_transaction():
                conn.rollback()
            with conn.begin():
                for staging in staged.values():
                    staging.drop(conn, checkfirst=True)
    return LoadReport(directory=directory, registries=counts, mode=mode, dry_run=dry_run)


def registry_files(directory: Path) -> dict[str, Path]:
    """The registry files in `directory`, in catalogue order, after adding the declarations beside
    them (`<name>.yaml`) to the catalogue; an undeclared `.csv` file is an error."""
    if not directory.is_dir():
        raise DataLoadError(
            file=str(directory),
            message="目录不存在或不是目录",
            message_en="no such directory",
            code="not_a_directory",
        )
    for path in declaration_files(directory):
        REGISTRIES.add(read_declaration(path))
    found: dict[str, Path] = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.suffix.lower() != ".csv":
            continue
        if path.suffix != ".csv" or path.stem not in REGISTRIES:
            known = ", ".join(f"{n}.csv" for n in REGISTRIES)
            declaration = f"{path.stem}{DECLARATION_SUFFIX}"
            raise DataLoadError(
                file=path.name,
                message=(
                    f"未知的共享数据文件（可用文件名：{known}）；新的共享数据库须先声明："
                    f"在同一文件夹中放入声明文件 {declaration}（格式见 docs/architecture.md 第 8 节）"
                ),
                message_en=(
                    f"unknown shared-data file (known files: {known}); declare a new registry in "
                    f"{declaration} beside it (format in docs/architecture.md, section 8)"
                ),
                code="unknown_file",
            )
        found[path.stem] = path
    return {name: found[name] for name in REGISTRIES if name in found}


def read_registry_file(registry: Registry, path: Path) -> ParsedRows:
    """The rows of one registry CSV keyed by the registry's key, every cell checked and typed (held in
    memory: for the in-memory registries of tests and benchmarks; loads stream with `iter_registry_rows`)."""
    rows: ParsedRows = {}
    first_line: dict[Key, int] = {}
    for line, row in iter_registry_rows(registry, path):
        key = tuple(row[k] for k in registry.key)
        if key in rows:
            raise _duplicate(registry, path.name, line=line, first=first_line[key])
        rows[key] = row
        first_line[key] = line
    return rows


def iter_registry_rows(registry: Registry, path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(first physical line, typed row) for each record of one registry CSV, read as a stream; every
    cell is checked. Duplicate keys are not checked here (they need the whole file)."""
    name = path.name
    with path.open("rb") as raw:
        text = _Utf8Lines(raw, name)
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
            yield (
                line,
                {
                    c.name: _cell(registry, c.name, cells[positions[c.name]].strip(), name, line)
                    for c in registry.columns
                },
            )


class _Utf8Lines:
    """The lines of a binary file decoded as UTF-8 (a leading BOM dropped), one at a time and each at
    most MAX_LINE_BYTES; a byte sequence that is not UTF-8, or a longer line, is reported with its
    physical line."""

    def __init__(self, raw: Any, name: str) -> None:
        self._raw = raw
        self._name = name
        self._line = 0

    def __iter__(self) -> Iterator[str]:
        for chunk in iter(lambda: self._raw.readline(MAX_LINE_BYTES + 1), b""):
            self._line += 1
            if len(chunk) > MAX_LINE_BYTES:
                raise DataLoadError(
                    file=self._name,
                    line=self._line,
                    message=f"该行超过 {MAX_LINE_BYTES // 2**20} MiB 上限（缺少换行符，或内容过长）",
                    message_en=f"line longer than {MAX_LINE_BYTES // 2**20} MiB (no line break, or too long)",
                    code="line_too_long",
                )
            try:
                text = chunk.decode("utf-8-sig" if self._line == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise DataLoadError(
                    file=self._name,
                    line=self._line,
                    message="文件不是 UTF-8 编码",
                    message_en="file is not UTF-8 encoded",
                    code="bad_encoding",
                ) from exc
            yield text


def _records(name: str, lines: Any) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, cells) for each CSV record."""
    reader = csv.reader(iter(lines), strict=True)
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


def _duplicate(registry: Registry, name: str, *, line: int, first: int) -> DataLoadError:
    cols = ", ".join(registry.key)
    return DataLoadError(
        file=name,
        line=line,
        message=f"记录键（{cols}）与第{first}行重复",
        message_en=f"duplicate key ({cols}), same as line {first}",
        code="duplicate_key",
    )


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
    if "\x00" in text:  # a NUL character is no text a registry holds (PostgreSQL refuses to store it)
        raise DataLoadError(
            file=name,
            line=line,
            column=column,
            message="含有 NUL 字符（\\x00）",
            message_en="holds a NUL character (\\x00)",
            code="nul_character",
        )
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
    return TABLES[registry]


def _lock_tables(conn: Connection, tables: list[Table]) -> None:
    """Keep concurrent loads of the same registries apart (readers are not blocked)."""
    if conn.dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE already holds the database's write lock
    names = ", ".join(
        conn.dialect.identifier_preparer.format_table(t) for t in sorted(tables, key=lambda t: t.name)
    )
    conn.exec_driver_sql(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")


def _stage(conn: Connection, registry: Registry, path: Path) -> Table:
    """Read `path` into a temporary staging table (with each row's line), checking every cell and
    that no key appears twice."""
    target = _table(registry.name)
    staging = Table(
        f"staging_{registry.name}",
        MetaData(),
        Column(_LINE, Integer, nullable=False),
        *(Column(n, target.c[n].type) for n in registry.column_names),
        Index(f"ix_staging_{registry.name}_key", *registry.key, _LINE),
        prefixes=["TEMPORARY"],
    )
    staging.drop(conn, checkfirst=True)  # a staging table left by an earlier load on this connection
    staging.create(conn)
    batch: list[dict[str, Any]] = []
    for line, row in iter_registry_rows(registry, path):
        batch.append({_LINE: line, **row})
        if len(batch) >= _BATCH:
            conn.execute(insert(staging), batch)
            batch = []
    if batch:
        conn.execute(insert(staging), batch)
    _check_unique(conn, registry, staging, path.name)
    return staging


def _check_unique(conn: Connection, registry: Registry, staging: Table, name: str) -> None:
    """The first line (in file order) whose key an earlier line already had is an error."""
    earlier = staging.alias("earlier")
    same = _same_key(registry, earlier, staging)
    row = conn.execute(
        select(staging.c[_LINE], select(func.min(earlier.c[_LINE])).where(same).scalar_subquery())
        .where(exists().where(same, earlier.c[_LINE] < staging.c[_LINE]))
        .order_by(staging.c[_LINE])
        .limit(1)
    ).first()
    if row is not None:
        raise _duplicate(registry, name, line=row[0], first=row[1])


def _same_key(registry: Registry, a: Table | Any, b: Table | Any) -> ColumnElement[bool]:
    return and_(*(a.c[k] == b.c[k] for k in registry.key))


def _differs(registry: Registry, target: Table, staging: Table) -> ColumnElement[bool]:
    values = [n for n in registry.column_names if n not in registry.key]
    if not values:
        return false()
    return or_(*(target.c[n].is_distinct_from(staging.c[n]) for n in values))


def _count(conn: Connection, registry: Registry, staging: Table, *, mode: Mode) -> RegistryLoadCounts:
    """What applying `staging` to the registry's table would change."""
    target = _table(registry.name)
    same = _same_key(registry, target, staging)
    staged = conn.scalar(select(func.count()).select_from(staging)) or 0
    new = conn.scalar(select(func.count()).select_from(staging).where(~exists().where(same))) or 0
    if mode == "append" and new < staged:
        line = conn.scalar(select(func.min(staging.c[_LINE])).where(exists().where(same)))
        cols = ", ".join(registry.key)
        raise DataLoadError(
            file=f"{registry.name}.csv",
            line=line,
            message=f"追加模式：记录键（{cols}）已在库中（用 --mode upsert 更新已有记录）",
            message_en=f"append mode: key ({cols}) already in the registry (use --mode upsert to update)",
            code="key_exists",
        )
    changed = (
        conn.scalar(
            select(func.count())
            .select_from(staging.join(target, same))
            .where(_differs(registry, target, staging))
        )
        or 0
    )
    deleted = 0
    if mode == "replace":
        deleted = conn.scalar(select(func.count()).select_from(target).where(~exists().where(same))) or 0
    return RegistryLoadCounts(
        inserted=new, updated=changed, deleted=deleted, unchanged=staged - new - changed
    )


def _check_deletions(
    conn: Connection, registry: Registry, counts: RegistryLoadCounts, max_share: float
) -> None:
    """Refuse a replace that would delete more than `max_share` of the registry's rows."""
    if not counts.deleted:
        return
    existing = conn.scalar(select(func.count()).select_from(_table(registry.name))) or 0
    if counts.deleted <= max_share * existing:
        return
    share = f"{100 * counts.deleted / existing:.1f}%"
    limit = f"{100 * max_share:g}%"
    raise DataLoadError(
        file=f"{registry.name}.csv",
        message=(
            f"整表替换将删除 {counts.deleted} 行，占库中现有 {existing} 行的 {share}，超过允许的 {limit}；"
            "若文件确为完整快照请加 --force，只增改不删请用 --mode upsert"
        ),
        message_en=(
            f"replacing would delete {counts.deleted} of {existing} rows ({share}), more than the "
            f"allowed {limit}; pass --force if the file is a full snapshot, or use --mode upsert"
        ),
        code="too_many_deletions",
    )


def _apply(conn: Connection, registry: Registry, staging: Table, *, mode: Mode) -> None:
    """Make the registry's table take the staged rows: deletions (replace), changes, then additions
    in file order. Rows whose key stays keep their row_id."""
    target = _table(registry.name)
    same = _same_key(registry, target, staging)
    if mode == "replace":
        conn.execute(delete(target).where(~exists().where(same)))
    values = [n for n in registry.column_names if n not in registry.key]
    if values and mode != "append":
        conn.execute(
            update(target)
            .where(same, _differs(registry, target, staging))
            .values({n: staging.c[n] for n in values})
        )
    names = registry.column_names
    conn.execute(
        insert(target).from_select(
            names,
            select(*(staging.c[n] for n in names)).where(~exists().where(same)).order_by(staging.c[_LINE]),
        )
    )
