"""The catalogue of shared-data registries (docs/architecture.md §8): names, columns, value kinds, keys,
titles and the Chinese labels of coded values, declared as data, one YAML file per registry.

The decision core reasons about registry rows through this catalogue only; the storage adapter builds
its tables from it. Declarations come from the project's `registries/` folder (the built-ins), from the
folder of the setting MIAOPI_REGISTRIES_DIR, from an item folder's own `registries/` and from the
folder of a shared-data load. This module holds the types, the pure parser of one declaration
(`parse_registry`: text → Registry) and the process-wide catalogue `REGISTRIES`, which reads the
built-in declarations shipped with the code on first use. That is its only file access: the adapters
read every other folder (store/declarations.py, for service/registries.py and store/loader.py) and
`add` what they read.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.errors import RulesetError
from engine.expr import suggest
from engine.loader import parse_yaml

ColumnKind = Literal[
    "string", "id_number", "credit_code", "subject_id", "decimal", "integer", "date", "month", "enum"
]
COLUMN_KINDS: tuple[str, ...] = get_args(ColumnKind)

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
NAME_MAX = 40
"""Longest registry name (its table's and staging table's names must fit PostgreSQL's 63 bytes)."""
CODE_MAX = 32
"""Longest code of an enum column (the column is VARCHAR(32))."""
RESERVED_COLUMNS = frozenset({"row_id", "found"})
"""`row_id` is every table's surrogate key; `found` is what a one-record look-up adds to its row."""
DECLARATION_SUFFIX = ".yaml"

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "registries"
"""The built-in declarations, shipped with the code."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: ColumnKind
    nullable: bool = False
    choices: tuple[str, ...] = ()
    """For enum columns: the allowed codes, in declared order."""
    title: str = ""
    """The column's Chinese title, as the approvers' pages show it."""
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    """For enum columns: code → Chinese label, as messages and pages print a code."""
    personal: bool = False
    """Personal data, masked where registry rows are listed."""

    def label(self, code: Any) -> Any:
        """The Chinese label of a code of this column; any other value as it is."""
        if isinstance(code, str):
            return self.labels.get(code, code)
        return code


@dataclass(frozen=True, slots=True)
class Registry:
    name: str
    title: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    """Columns that identify one row (unique); a decision cites a record by these."""
    indexes: tuple[tuple[str, ...], ...] = ()
    """Further indexes (each a tuple of columns) for the columns look-ups filter on."""
    description: str | None = None
    source: str = field(default="", compare=False)
    """Where the declaration was read (a file), for error messages."""

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


# -- the declaration file --------------------------------------------------------------------------------
Text = Annotated[str, Field(min_length=1, max_length=200)]


class _ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ColumnKind
    title: Text
    nullable: bool = False
    personal: bool = False
    labels: dict[str, Text] | None = None


class _Declaration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=NAME_PATTERN, max_length=NAME_MAX)]
    title: Text
    description: Annotated[str, Field(max_length=2000)] | None = None
    columns: Annotated[dict[str, _ColumnSpec], Field(min_length=1)]
    key: Annotated[list[str], Field(min_length=1)]
    indexes: list[str | Annotated[list[str], Field(min_length=1)]] = []


_WHAT = "共享数据库声明"


def parse_registry(text: str, *, source: str, name: str | None = None) -> Registry:
    """One registry declaration (YAML text) → Registry. `name`, when given (the file's name without
    `.yaml`), must be the declared name. Raises RulesetError naming the file, the line and the field."""
    data, lines = parse_yaml(text, source=source, what=_WHAT, text_keys=True)

    def fail(message: str, loc: tuple[str, ...], hint: str | None = None) -> RulesetError:
        line = None
        for n in range(len(loc), -1, -1):
            if loc[:n] in lines:
                line = lines[loc[:n]]
                break
        return RulesetError(message, source=source, line=line, path=".".join(loc) or None, suggestion=hint)

    try:
        spec = _Declaration.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        extra = [e for e in errors if e["type"] == "extra_forbidden"]
        err = extra[0] if extra else errors[0]
        loc = tuple(str(p) for p in err["loc"])
        message, hint = _explain(err, loc)
        more = len(errors) - 1
        if more:
            message += f"（另有 {more} 处错误）"
        raise fail(message, loc, hint) from exc

    if name is not None and spec.name != name:
        raise fail(f"声明的名称 {spec.name!r} 与文件名 {name}{DECLARATION_SUFFIX} 不一致", ("name",))
    columns: list[Column] = []
    for col_name, c in spec.columns.items():
        where: tuple[str, ...] = ("columns", col_name)
        if not re.match(NAME_PATTERN, col_name) or len(col_name) > 63:
            raise fail(f"列名 {col_name!r} 只能由小写字母、数字和下划线组成，并以字母开头", where)
        if col_name in RESERVED_COLUMNS:
            raise fail(f"列名 {col_name!r} 是保留名称，请换一个", where)
        labels = dict(c.labels or {})
        if c.type == "enum":
            if not labels:
                raise fail("enum 类型的列必须给出 labels（代码: 中文名称）", (*where, "type"))
            for code in labels:
                if not code or len(code) > CODE_MAX:
                    raise fail(f"代码 {code!r} 应为 1 至 {CODE_MAX} 个字符", (*where, "labels", code))
        elif labels:
            raise fail(f"只有 enum 类型的列可以有 labels（本列为 {c.type}）", (*where, "labels"))
        columns.append(
            Column(
                name=col_name,
                kind=c.type,
                nullable=c.nullable,
                choices=tuple(labels),
                title=c.title,
                labels=labels,
                personal=c.personal,
            )
        )
    names = [c.name for c in columns]
    by_name = {c.name: c for c in columns}
    for i, k in enumerate(spec.key):
        where = ("key", str(i))
        if k not in by_name:
            raise fail(f"记录键中的列 {k!r} 不在 columns 中", where, suggest(k, names))
        if k in spec.key[:i]:
            raise fail(f"记录键中的列 {k!r} 重复", where)
        if by_name[k].nullable:
            raise fail(f"记录键中的列 {k!r} 不能为 nullable", where)
    indexes: list[tuple[str, ...]] = []
    for i, entry in enumerate(spec.indexes):
        cols = (entry,) if isinstance(entry, str) else tuple(entry)
        for j, col in enumerate(cols):
            at = ("indexes", str(i)) if isinstance(entry, str) else ("indexes", str(i), str(j))
            if col not in by_name:
                raise fail(f"索引中的列 {col!r} 不在 columns 中", at, suggest(col, names))
            if col in cols[:j]:
                raise fail(f"索引中的列 {col!r} 重复", at)
        if cols[0] == spec.key[0]:
            raise fail(
                f"索引以 {cols[0]} 开头：记录键的唯一约束已以该列开头，无需再建索引", ("indexes", str(i))
            )
        if any(cols[0] == other[0] for other in indexes):
            raise fail(f"已有以 {cols[0]} 开头的索引", ("indexes", str(i)))
        indexes.append(cols)
    return Registry(
        name=spec.name,
        title=spec.title,
        columns=tuple(columns),
        key=tuple(spec.key),
        indexes=tuple(indexes),
        description=spec.description,
        source=source,
    )


_TYPE_WORDS = {
    "string_type": "应为文字",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "dict_type": "应为映射（键: 值）",
    "list_type": "应为列表",
    "string_too_short": "不能为空",
    "too_short": "不能为空",
}


def _explain(err: Any, loc: tuple[str, ...]) -> tuple[str, str | None]:
    """A pydantic error in Chinese, with a suggestion where one helps."""
    kind = err["type"]
    last = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        allowed = list(_ColumnSpec.model_fields if loc[:1] == ("columns",) else _Declaration.model_fields)
        return f"不认识的键 {last!r}", suggest(last, allowed)
    if kind == "missing":
        return f"缺少必填项 {last!r}", None
    if kind == "literal_error":
        given = str(err.get("input"))
        return (f"未知的列类型 {given!r}（可选：{', '.join(COLUMN_KINDS)}）", suggest(given, COLUMN_KINDS))
    if kind == "string_pattern_mismatch":
        return "名称只能由小写字母、数字和下划线组成，并以字母开头", None
    if kind == "string_too_long":
        return f"过长（至多 {err.get('ctx', {}).get('max_length')} 个字符）", None
    if kind in _TYPE_WORDS:
        return _TYPE_WORDS[kind], None
    return str(err["msg"]), None


# -- the catalogue --------------------------------------------------------------------------------------
def _difference(a: Registry, b: Registry) -> str:
    """What differs between two declarations of one registry, in a few words."""
    if a.title != b.title:
        return f"名称 {a.title} ≠ {b.title}"
    if a.column_names != b.column_names:
        return f"列 {', '.join(a.column_names)} ≠ {', '.join(b.column_names)}"
    for ca, cb in zip(a.columns, b.columns, strict=True):
        if ca != cb:
            return f"列 {ca.name} 的声明不同"
    if a.key != b.key:
        return f"记录键 {', '.join(a.key)} ≠ {', '.join(b.key)}"
    return "索引或说明不同"


class RegistryCatalogue(Mapping[str, Registry]):
    """Registries by name: the built-in declarations (read on first use), then what `add` is given.

    A name means one registry in a process (and one table in a database): declaring it again is
    allowed only with the same declaration."""

    def __init__(self, builtins: Callable[[], list[Registry]]) -> None:
        self._builtins = builtins
        self._registries: dict[str, Registry] | None = None
        self._builtin_names: frozenset[str] = frozenset()
        self._lock = threading.RLock()

    def _all(self) -> dict[str, Registry]:
        registries = self._registries
        if registries is None:
            with self._lock:
                if self._registries is None:
                    found = self._builtins()
                    self._builtin_names = frozenset(r.name for r in found)
                    self._registries = {r.name: r for r in found}
                registries = self._registries
        return registries

    def __getitem__(self, name: str) -> Registry:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._all()))

    def __len__(self) -> int:
        return len(self._all())

    def __contains__(self, name: object) -> bool:
        return name in self._all()

    @property
    def builtin_names(self) -> frozenset[str]:
        """The registries declared in the project's `registries/` folder."""
        self._all()
        return self._builtin_names

    def add(self, registry: Registry) -> bool:
        """Add a declared registry; False when the same declaration is already there. A different
        declaration under a known name raises RulesetError naming both files."""
        with self._lock:
            known = self._all().get(registry.name)
            if known is None:
                self._all()[registry.name] = registry
                return True
            if known == registry:
                return False
            raise RulesetError(
                f"共享数据库 {registry.name} 已在 {known.source or '内置声明'} 中声明，"
                f"此处的声明与之不一致（{_difference(known, registry)}）；同名的库只能有一种声明",
                source=registry.source or None,
                path="name",
            )

    def snapshot(self) -> dict[str, Registry]:
        """The registries now in the catalogue (to `restore` later, e.g. after a test)."""
        return dict(self._all())

    def restore(self, snapshot: Mapping[str, Registry]) -> None:
        with self._lock:
            self._all()
            self._registries = dict(snapshot)


def read_builtins() -> list[Registry]:
    """The declarations of the project's `registries/` folder, by file name (the one folder the engine
    reads itself; store/declarations.py reads the others for the adapters)."""
    found = []
    for path in sorted(BUILTIN_DIR.glob(f"*{DECLARATION_SUFFIX}")):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise RulesetError(f"{_WHAT}不是 UTF-8 编码", source=str(path)) from exc
        found.append(parse_registry(text, source=str(path), name=path.name.removesuffix(DECLARATION_SUFFIX)))
    return found


REGISTRIES = RegistryCatalogue(read_builtins)
"""The registries this process knows: registry name → Registry."""
