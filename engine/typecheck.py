"""The type check of a ruleset (docs/architecture.md §4): every expression typed against what the
ruleset declares, before any case is seen.

The types of the names an expression reads: declared fields by their `type` (enums by their
choices, lists as lists of records), parameters by their value, the applicant and the case by the
case contract, documents by the fields their material declares, look-ups by the registry's columns
(engine/registries.py), derived values by their expression and tables by their rows, in dependency
order. Each mistake is a RulesetError with the file, the line and a suggestion; `check_types`
returns them all, in the order of the file. The rules of the language itself are in
engine.expr.types.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from engine import expr as E
from engine.errors import RulesetError
from engine.expr.analysis import literal_text, unparse
from engine.expr.types import (
    ANY,
    BOOL,
    DATE,
    NUMBER,
    STRING,
    Type,
    Typer,
    choices_text,
    enum,
    join,
    list_of,
    literal_hint,
    record,
)
from engine.loader import line_for
from engine.model import PLACEHOLDER, DocField, FieldSpec, Lookup, Ruleset, Table
from engine.registries import REGISTRIES, Column

if TYPE_CHECKING:
    from engine.program import Program, Step

_FIELD_TYPES: dict[str, Type] = {
    "string": STRING,
    "id_number": STRING,
    "credit_code": STRING,
    "decimal": NUMBER,
    "money": NUMBER,
    "integer": NUMBER,
    "date": DATE,
    "boolean": BOOL,
}
_COLUMN_TYPES: dict[str, Type] = {
    "string": STRING,
    "id_number": STRING,
    "credit_code": STRING,
    "subject_id": STRING,
    "month": STRING,
    "decimal": NUMBER,
    "integer": NUMBER,
    "date": DATE,
}
_DOCUMENT_TYPES: dict[str, Type] = {
    "text": STRING,
    "names": list_of(STRING),
    "id_number": STRING,
    "id_numbers": list_of(STRING),
    "credit_code": STRING,
    "amount": NUMBER,
    "area": NUMBER,
    "date": DATE,
}
_OUTPUT_TYPES = {"money": NUMBER, "decimal": NUMBER, "integer": NUMBER, "date": DATE, "boolean": BOOL}
_APPLICANT_ID = {"person": ("id_number", "个人"), "enterprise": ("credit_code", "企业")}
"""The identifier each kind of applicant has, and the kind's name."""


def field_type(spec: FieldSpec) -> Type:
    if spec.type == "enum":
        assert spec.choices is not None
        return enum(spec.choices)
    if spec.type == "list":
        assert spec.items is not None
        return list_of(record({name: field_type(s) for name, s in spec.items.items()}))
    return _FIELD_TYPES[spec.type]


def column_type(column: Column) -> Type:
    return enum(column.choices) if column.kind == "enum" else _COLUMN_TYPES[column.kind]


def parameter_type(value: object) -> Type:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int | Decimal):
        return NUMBER
    return enum((str(value),))


def document_type(fields: Mapping[str, DocField]) -> Type:
    """A document's record. A text field with `choices` is typed as any text: the extractor gives
    one of their values, but the engine takes what the document facts hold (engine.facts)."""
    return record({"found": BOOL, **{name: _DOCUMENT_TYPES[spec.type] for name, spec in fields.items()}})


def names_of(rs: Ruleset) -> dict[str, Type]:
    """The types of the names every expression of the ruleset may read, before its steps."""
    kind = rs.item.applicant_kind
    documents: dict[str, Type] = {}
    for m in rs.materials:
        if m.document_kind and m.document_kind not in documents:  # the first material of a kind is read
            documents[m.document_kind] = document_type(m.fields)
    return {
        "form": record({name: field_type(spec) for name, spec in rs.fields.items()}),
        "params": record({name: parameter_type(p.value) for name, p in rs.parameters.items()}),
        "applicant": record(
            {"kind": enum((kind,)), "name": STRING, "id_number": STRING, "credit_code": STRING}
        ),
        "case": record(
            {
                "case_id": STRING,
                "submitted_at": STRING,
                "submitted_on": DATE,
                "commitments": list_of(STRING),
            }
        ),
        "documents": record(documents),
    }


def check_types(program: Program) -> list[RulesetError]:
    """Every type error of a compiled ruleset, in the order of the file (none: it type-checks)."""
    checker = _Checker(program)
    checker.run()
    return sorted(checker.errors, key=lambda e: e.line or 0)


def inferred_types(program: Program) -> dict[str, Type]:
    """The type of every top-level name the ruleset's expressions read: the declared ones and each
    step's (a look-up's record or list, a derived value's, a table's record)."""
    checker = _Checker(program)
    checker.run()
    return dict(checker.names)


class _Checker:
    def __init__(self, program: Program) -> None:
        self.program = program
        self.rs = program.ruleset
        self.names = names_of(self.rs)
        self.errors: list[RulesetError] = []

    # ------------------------------------------------------------------ reporting

    def error(self, path: str, message: str, suggestion: str | None = None) -> None:
        self.errors.append(
            RulesetError(
                message,
                source=self.program.source,
                line=line_for(self.program.lines, tuple(path.split("."))),
                path=path,
                suggestion=suggestion,
            )
        )

    def hint(self, node: E.Node, wanted: Type) -> str | None:
        """What a parameter of the wrong kind was meant to hold."""
        if not (isinstance(node, E.Path) and len(node.parts) == 2 and node.parts[0] == "params"):
            return None
        name = node.parts[1]
        param = self.rs.parameters.get(name)
        if param is None:
            return None
        line = line_for(self.program.lines, ("parameters", name, "value"))
        where = f"（第 {line} 行）" if line else ""
        value = param.value
        if isinstance(value, str):
            text = literal_text(value)
            if wanted.kind == "date" and literal_hint(E.Literal(value), wanted):
                return f"参数 {name} 的值是文本 {text}{where}；比较日期请写 date(params.{name})"
            if wanted.kind in ("number", "bool") and literal_hint(E.Literal(value), wanted):
                return f"参数 {name} 的值是文本 {text}{where}；请写成 {value.strip()}（不加引号）"
        elif wanted.kind == "string" and not isinstance(value, bool):
            return f"参数 {name} 的值是数字 {value}{where}；要作文本请加引号：'{value}'"
        return None

    def typed(self, node: E.Node, path: str, scope: Mapping[str, Type] | None = None) -> Type:
        self.applicant_fields(node, path, frozenset(scope or ()))
        typer = Typer(self.names, hint=self.hint)
        t = typer.infer(node, scope)
        for issue in typer.issues:
            self.error(path, issue.message, issue.suggestion)
        return t

    def truth(self, node: E.Node, path: str, what: str, scope: Mapping[str, Type] | None = None) -> None:
        t = self.typed(node, path, scope)
        if t.kind not in ("bool", "any"):
            hint = f"是否想写 {unparse(node)}.found？" if t.kind == "record" else None
            self.error(path, f"{what}应为是/否值，{unparse(node)} 是{t.name}", hint)

    def applicant_fields(self, node: E.Node, path: str, bound: frozenset[str]) -> None:
        """An item serves one kind of applicant: the other kind's identifier is always empty."""
        kind = self.rs.item.applicant_kind
        own, title = _APPLICANT_ID[kind]
        other = next(i for k, (i, _) in _APPLICANT_ID.items() if k != kind)
        for p in E.free_paths(node, bound):
            if p.parts[:2] == ("applicant", other):
                self.error(
                    path,
                    f"本事项只受理{title}申请（item.applicant_kind: {kind}），applicant.{other} 总是为空",
                    f"是否想写 applicant.{own}？",
                )

    # ------------------------------------------------------------------ the ruleset

    def run(self) -> None:
        for step in self.program.steps:
            if step.kind == "lookup":
                t = self.lookup(step)
            elif step.kind == "derived":
                assert step.value is not None
                t = self.typed(step.value, f"derived.{step.name}.expr")
            else:
                t = self.table(step)
            self.names = {**self.names, step.name: t}
        for i, (_, node) in enumerate(self.program.materials):
            if node is not None:
                self.truth(node, f"materials.{i}.exempt_when", "免提交条件")
        for i, cc in enumerate(self.program.conditions):
            self.truth(cc.ast, f"conditions.{i}.when", "条件")
            if cc.spec.message:
                for placeholder in dict.fromkeys(PLACEHOLDER.findall(cc.spec.message)):
                    self.typed(E.Path(tuple(placeholder.split("."))), f"conditions.{i}.message")
        for name, out, node in self.program.outputs:
            path = f"outputs.{name}.expr"
            t = self.typed(node, path)
            wanted = _OUTPUT_TYPES.get(out.type)
            if t.kind == "any":
                continue
            if wanted is not None and t.kind != wanted.kind:
                self.error(
                    path,
                    f"输出 {name} 的类型为 {out.type}，{unparse(node)} 是{t.name}",
                    literal_hint(node, wanted) or self.hint(node, wanted),
                )
            elif wanted is None and t.kind == "record":
                message = f"输出 {name} 的类型为 {out.type}，{unparse(node)} 是记录"
                self.error(path, message, "请写出记录的某个字段")

    def lookup(self, step: Step) -> Type:
        spec = step.spec
        assert isinstance(spec, Lookup)
        reg = REGISTRIES[spec.registry]
        columns = {c.name: column_type(c) for c in reg.columns}
        base = f"lookups.{step.name}"
        listed: list[str] = []
        for col, node in step.match.items():
            path = f"{base}.match.{col}"
            t = self.typed(node, path)
            self.key_value(reg.title, col, columns[col], node, t, path)
            if t.kind == "list":
                listed.append(col)
        if step.where is not None:
            self.truth(step.where, f"{base}.where", "筛选条件 where", {"row": record(columns)})
        if spec.one and spec.if_several is None:
            uncovered = [k for k in reg.key if k not in spec.match]
            if uncovered:
                self.error(
                    f"{base}.one",
                    f"one: true 的查询 {step.name} 按 {'、'.join(spec.match)} 查询{reg.title}，"
                    f"可能查到多条记录（该库的唯一键为 {'、'.join(reg.key)}）",
                    f"在 match 中补全 {'、'.join(uncovered)}，或去掉 one: true 按列表查询；"
                    "多条记录时确应视为未知、转人工的，写明 if_several: unknown",
                )
            for col in listed:
                self.error(
                    f"{base}.match.{col}",
                    f"one: true 的查询 {step.name} 按列表 {unparse(step.match[col])} 查询 {col}，"
                    "可能查到多条记录",
                    "按单个值查询，或去掉 one: true 按列表查询",
                )
        row = record(columns)
        return record({**columns, "found": BOOL}) if spec.one else list_of(row)

    def key_value(self, title: str, col: str, column: Type, node: E.Node, t: Type, path: str) -> None:
        """A look-up's value for a column: one value of the column's type, or a list of them."""
        items = list(node.items) if isinstance(node, E.ListExpr) else [node]
        for item_node in items:
            item = Typer(self.names).infer(item_node) if len(items) > 1 else t  # reported with the list
            element = item.item if item.kind == "list" and item.item is not None else item
            if element.kind in ("any", "null"):
                continue
            if element.kind != column.kind:
                self.error(
                    path,
                    f"{title}的列 {col} 是{column.name}，{unparse(item_node)} 是{item.name}",
                    literal_hint(item_node, column) or self.hint(item_node, column),
                )
                return
            if column.choices is not None and element.choices is not None:
                missing = element.choices - column.choices
                if missing and isinstance(item_node, E.Literal):
                    self.error(
                        path,
                        f"{title}的列 {col} 的取值只有 {choices_text(column.choices)}，"
                        f"没有 {literal_text(item_node.value)}",
                        E.suggest(str(item_node.value), sorted(column.choices)),
                    )
                    return
                if not element.choices & column.choices:
                    self.error(
                        path,
                        f"{title}的列 {col} 的取值只有 {choices_text(column.choices)}，"
                        f"{unparse(item_node)} 的取值 {choices_text(element.choices)} 都不在其中",
                    )
                    return

    def table(self, step: Step) -> Type:
        spec = step.spec
        assert isinstance(spec, Table)
        base = f"tables.{step.name}.rows"
        columns: dict[str, tuple[Type, int]] = {}
        for i, (when, then) in enumerate(step.rows):
            self.truth(when, f"{base}.{i}.when", f"决策表第 {i + 1} 行的条件")
            for col, node in then.items():
                path = f"{base}.{i}.then.{col}"
                t = self.typed(node, path)
                if col not in columns:
                    columns[col] = (t, i)
                    continue
                before, row = columns[col]
                joined = join(before, t)
                if joined is None:
                    self.error(
                        path,
                        f"决策表 {step.name} 的输出列 {col} 各行类型不一致：第 {row + 1} 行为{before.name}，"
                        f"第 {i + 1} 行为{t.name}",
                        literal_hint(node, before),
                    )
                    joined = ANY
                columns[col] = (joined, row)
        return record({col: t for col, (t, _) in columns.items()})
