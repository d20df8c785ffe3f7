"""The ruleset model: what a service item (事项) states, validated by pydantic (`extra="forbid"`)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IDENT = r"^[a-z][a-z0-9_]*$"
Ident = Annotated[str, Field(pattern=IDENT, max_length=64)]
Expr = Annotated[str, Field(min_length=1, max_length=2000)]
OnFail = Literal["review", "return", "reject"]
FieldType = Literal[
    "string", "decimal", "money", "integer", "date", "boolean", "enum", "id_number", "credit_code", "list"
]
OutputType = Literal["money", "decimal", "integer", "string", "date", "boolean"]
RESERVED = {"form", "applicant", "case", "params", "documents", "row", "true", "false", "null"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Item(_Strict):
    """Item metadata as published in the 办事指南."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=64)]
    code: str = Field(description="事项编码")
    name: str
    department: str
    kind: Literal["即办件", "承诺件"]
    time_limit_days: int = Field(ge=0, le=365, description="承诺办结时限（工作日）")
    legal_time_limit_days: int | None = Field(
        default=None, ge=0, le=365, description="法定办结时限（工作日）"
    )
    fees: str = "不收费"
    applicant_kind: Literal["person", "enterprise"]
    result: str = Field(description="审批结果名称")
    basis: list[str] = Field(min_length=1, description="设定依据")
    scope: str | None = None


class Parameter(_Strict):
    value: Decimal | int | str | bool
    title: str
    local: bool = False
    """A figure set locally (地方参数), which the guide says so about."""
    basis: str | None = None


class FieldSpec(_Strict):
    type: FieldType
    title: str
    nullable: bool = False
    required: bool = True
    choices: dict[str, str] | None = None
    """For enum: value → Chinese label."""
    min: Decimal | None = None
    max: Decimal | None = None
    max_length: int = Field(default=200, ge=1, le=10000)
    items: dict[Ident, FieldSpec] | None = None
    """For list: the fields of each element."""
    max_items: int = Field(default=100, ge=1, le=1000)
    help: str | None = None

    @model_validator(mode="after")
    def _check_kind(self) -> FieldSpec:
        if self.type == "enum" and not self.choices:
            raise ValueError("enum 类型的字段必须给出 choices")
        if self.type == "list" and not self.items:
            raise ValueError("list 类型的字段必须给出 items")
        if self.type != "list" and self.items:
            raise ValueError("只有 list 类型的字段可以有 items")
        return self


DocFieldType = Literal["text", "names", "id_number", "id_numbers", "credit_code", "amount", "area", "date"]
DocFieldFormat = Literal["permit_no"]
"""Known formats a text value must have (extractors/parsers.py `FORMATS`): `permit_no` a safety-production
permit number, （省简称）+ two capital letters + 安许证字 + bracketed year + a 3–6 digit serial."""


class DocField(_Strict):
    """A field read from a submitted document: found next to (right of or below) one of its labels."""

    title: str
    type: DocFieldType
    labels: list[str] = Field(min_length=1)
    """Label synonyms as printed (with or without a colon)."""
    section: list[str] | None = None
    """Only look after one of these headings/labels and before the next section (e.g. 买受人 / 出卖人)."""
    capitals_labels: list[str] | None = None
    """For amounts: labels of the same amount in Chinese capitals (大写), which must agree."""
    choices: dict[str, str] | None = None
    """For text: printed wording → value (e.g. 住宅 → residential); other wording is unreadable."""
    range_labels: list[str] | None = None
    """Labels of a printed range ("2024年6月15日至2027年6月14日") holding this field as one end."""
    range_part: Literal["start", "end"] | None = None
    excluded_sublabels: list[str] | None = None
    """With `section`: labels of other persons inside the party's block (委托代理人, 法定代理人, 法定代表人…).
    A sub-label that names someone starts that person's lines, which run to the next party label: what
    is found there (an agent's ID number) is not the party's."""
    shared_sublabels: list[str] | None = None
    """With `section`: labels of persons who may or may not count as the party (共有人, 共有权人). When one
    is named inside the party's block, the party's list fields are not read (a problem instead)."""
    format: DocFieldFormat | None = None
    """For text: the format the value must have; a value that does not fit is not given (`bad_format`)."""

    @model_validator(mode="after")
    def _check_party(self) -> DocField:
        if (self.excluded_sublabels or self.shared_sublabels) and not self.section:
            raise ValueError("excluded_sublabels / shared_sublabels 只能与 section（当事人一栏）一起使用")
        if self.format is not None and self.type != "text":
            raise ValueError("format 只能用于 text 类型的字段")
        return self


class Material(_Strict):
    id: Ident
    title: str
    document_kind: Annotated[str, Field(pattern=IDENT)] | None = None
    """The documents[].kind that supplies this material."""
    fields: dict[Ident, DocField] = Field(default_factory=dict)
    """What the document yields, for extraction and cross-checks."""
    other_labels: list[str] = Field(default_factory=list)
    """Labels of other printed items (e.g. 套内建筑面积): they end a value and are never taken for
    a field's label."""
    commitment: str | None = None
    """The commitments[] entry that supplies it (告知承诺)."""
    exempt_when: Expr | None = None
    """Expression: when true the material need not be submitted (免提交)."""
    exempt_reason: str | None = None
    basis: str | None = None
    copies: str = "原件或电子件 1 份"

    @model_validator(mode="after")
    def _check(self) -> Material:
        if (self.document_kind is None) == (self.commitment is None):
            raise ValueError("材料必须且只能由 document_kind 或 commitment 之一提供")
        if self.exempt_when and not self.exempt_reason:
            raise ValueError("有 exempt_when 的材料必须写明 exempt_reason（免提交的理由）")
        if self.fields and self.document_kind is None:
            raise ValueError("只有文件类材料（document_kind）可以声明 fields")
        return self


class Lookup(_Strict):
    """A query to a shared registry: rows whose columns equal the given values."""

    title: str
    registry: str
    match: dict[str, Expr] = Field(min_length=1)
    """column → expression; a list value matches any of its elements."""
    where: Expr | None = None
    """Filter on each row, the row bound as `row`."""
    one: bool = False
    """One record (or not found) instead of a list. The match must give a single value for every
    column of the registry's key (engine/registries.py), so that at most one row can match."""
    if_several: Literal["unknown"] | None = None
    """With `one`: the match does not cover the registry's key, and the author states what several
    matching rows mean: `unknown` (the record is not known, the case goes to a person)."""

    @model_validator(mode="after")
    def _several(self) -> Lookup:
        if self.if_several is not None and not self.one:
            raise ValueError("if_several 只能与 one: true 一起使用")
        return self


class Derived(_Strict):
    title: str
    expr: Expr


class TableRow(_Strict):
    when: Expr
    then: dict[Ident, Expr]


class Table(_Strict):
    """A decision table with first-hit policy: the first row whose `when` holds gives the values."""

    title: str
    basis: str | None = None
    hit: Literal["first"] = "first"
    rows: list[TableRow] = Field(min_length=1)

    @model_validator(mode="after")
    def _same_columns(self) -> Table:
        cols = set(self.rows[0].then)
        for i, row in enumerate(self.rows):
            if set(row.then) != cols:
                raise ValueError(f"第 {i + 1} 行的输出列 {sorted(row.then)} 与第 1 行 {sorted(cols)} 不一致")
        return self


class Condition(_Strict):
    id: Ident
    title: str
    """What must hold, in plain Chinese (shown to approvers and in the guide)."""
    when: Expr
    on_fail: OnFail
    basis: str
    message: str | None = None
    """Reason shown on failure; `{path}` placeholders are filled with the values used."""


class Output(_Strict):
    title: str
    expr: Expr
    type: OutputType
    labels: dict[str, str] | None = None
    """For coded string outputs: code → the Chinese wording printed on documents (the decision keeps
    the code)."""


class Ruleset(_Strict):
    ruleset: Literal[1] = Field(description="format version of this file")
    version: Annotated[str, Field(pattern=r"^[0-9A-Za-z.\-]+$", max_length=40)]
    effective_from: str | None = None
    item: Item
    parameters: dict[Ident, Parameter] = Field(default_factory=dict)
    fields: dict[Ident, FieldSpec]
    materials: list[Material] = Field(default_factory=list)
    lookups: dict[Ident, Lookup] = Field(default_factory=dict)
    derived: dict[Ident, Derived] = Field(default_factory=dict)
    tables: dict[Ident, Table] = Field(default_factory=dict)
    conditions: list[Condition] = Field(min_length=1)
    outputs: dict[Ident, Output] = Field(default_factory=dict)
    confidence_threshold: Decimal = Field(default=Decimal("0.90"), ge=0, le=1)

    @field_validator("conditions")
    @classmethod
    def _unique_conditions(cls, v: list[Condition]) -> list[Condition]:
        seen: set[str] = set()
        for c in v:
            if c.id in seen:
                raise ValueError(f"条件 id 重复：{c.id}")
            seen.add(c.id)
        return v

    @model_validator(mode="after")
    def _names(self) -> Ruleset:
        names: dict[str, str] = {}
        for section in ("lookups", "derived", "tables"):
            for name in getattr(self, section):
                if name in RESERVED:
                    raise ValueError(f"{section}.{name}: 名称 {name!r} 是保留字")
                if name in names:
                    raise ValueError(f"{section}.{name}: 名称已在 {names[name]} 中使用")
                names[name] = section
        mids = [m.id for m in self.materials]
        if len(mids) != len(set(mids)):
            raise ValueError("材料 id 重复")
        return self

    def condition(self, cid: str) -> Condition:
        return next(c for c in self.conditions if c.id == cid)


def iter_expressions(rs: Ruleset) -> list[tuple[str, str]]:
    """(path in the file, expression text) for every expression in a ruleset."""
    out: list[tuple[str, str]] = []
    for i, m in enumerate(rs.materials):
        if m.exempt_when:
            out.append((f"materials.{i}.exempt_when", m.exempt_when))
    for name, lk in rs.lookups.items():
        for col, e in lk.match.items():
            out.append((f"lookups.{name}.match.{col}", e))
        if lk.where:
            out.append((f"lookups.{name}.where", lk.where))
    for name, d in rs.derived.items():
        out.append((f"derived.{name}.expr", d.expr))
    for name, t in rs.tables.items():
        for i, row in enumerate(t.rows):
            out.append((f"tables.{name}.rows.{i}.when", row.when))
            for col, e in row.then.items():
                out.append((f"tables.{name}.rows.{i}.then.{col}", e))
    for i, c in enumerate(rs.conditions):
        out.append((f"conditions.{i}.when", c.when))
    for name, o in rs.outputs.items():
        out.append((f"outputs.{name}.expr", o.expr))
    return out


PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


def as_plain(value: Any) -> Any:
    """JSON-ready form of a model dump (Decimals as strings) for canonical hashing."""
    if isinstance(value, dict):
        return {k: as_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    return value
