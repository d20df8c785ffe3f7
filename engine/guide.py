"""The 办事指南 / 一次告知单, generated from the ruleset alone: `guide_of` builds it as data (the pages
and the JSON API show that), `render_guide` prints the same data in Markdown (`miaopi guide`). One
source: whatever the ruleset states, every form of the guide states alike."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from engine.model import Ruleset
from engine.program import Program
from engine.registries import REGISTRIES

ON_FAIL = {"review": "转人工审核", "return": "退回补正", "reject": "不予受理/不予许可"}
FIELD_TYPES = {
    "string": "文本",
    "decimal": "数字",
    "money": "金额（元，两位小数）",
    "integer": "整数",
    "date": "日期（YYYY-MM-DD）",
    "boolean": "是/否",
    "enum": "选项",
    "id_number": "身份证号码",
    "credit_code": "统一社会信用代码",
    "list": "列表",
}
APPLICANT_KINDS = {"person": "自然人", "enterprise": "企业法人"}
CONSULT_HOTLINE = "12345 政务服务便民热线"


def _registry_title(name: str) -> str:
    """A registry's declared Chinese title (its name when it is not in the catalogue)."""
    registry = REGISTRIES.get(name)
    return registry.title if registry is not None else name


class GuideCondition(BaseModel):
    id: str
    title: str
    """The condition in plain words, as the ruleset states it."""
    on_fail: str
    """What happens when it does not hold (转人工审核, 退回补正, 不予受理/不予许可)."""
    basis: str


class GuideMaterial(BaseModel):
    id: str
    title: str
    how: str
    """How it is supplied: the copies, or 书面承诺（告知承诺制）."""
    commitment: bool
    exempt_reason: str | None
    """When it need not be submitted (免提交), and why; None when it always must be."""
    basis: str | None


class GuideField(BaseModel):
    name: str
    title: str
    type: str
    notes: list[str]


class GuideParameter(BaseModel):
    title: str
    value: str
    local: bool
    basis: str | None


class Guide(BaseModel):
    """An item's 办事指南, as data."""

    item: str
    code: str
    name: str
    department: str
    kind: Literal["即办件", "承诺件"]
    instant: bool
    """即办件: decided at once when every condition holds."""
    applicant_kind: Literal["person", "enterprise"]
    applicant_kind_label: str
    scope: str | None
    time_limit_days: int
    legal_time_limit_days: int | None
    fees: str
    result: str
    version: str
    sha256: str
    basis: list[str]
    conditions: list[GuideCondition]
    materials: list[GuideMaterial]
    fields: list[GuideField]
    shared_data: list[str]
    """What is checked through shared data, so the applicant need not provide it."""
    parameters: list[GuideParameter]
    consult: str
    """Where to ask."""


def guide_of(program: Program) -> Guide:
    rs: Ruleset = program.ruleset
    it = rs.item
    fields = []
    for name, f in rs.fields.items():
        notes = []
        if f.choices:
            notes.append("可选：" + "、".join(f"{label}（{v}）" for v, label in f.choices.items()))
        if f.nullable:
            notes.append("无则填 null")
        if f.items:
            notes.append("每项包括：" + "、".join(f"{s.title}（{n}）" for n, s in f.items.items()))
        fields.append(GuideField(name=name, title=f.title, type=FIELD_TYPES[f.type], notes=notes))
    return Guide(
        item=it.id,
        code=it.code,
        name=it.name,
        department=it.department,
        kind=it.kind,
        instant=it.kind == "即办件",
        applicant_kind=it.applicant_kind,
        applicant_kind_label=APPLICANT_KINDS[it.applicant_kind],
        scope=it.scope,
        time_limit_days=it.time_limit_days,
        legal_time_limit_days=it.legal_time_limit_days,
        fees=it.fees,
        result=it.result,
        version=rs.version,
        sha256=program.sha256,
        basis=list(it.basis),
        conditions=[
            GuideCondition(id=c.id, title=c.title, on_fail=ON_FAIL[c.on_fail], basis=c.basis)
            for c in rs.conditions
        ],
        materials=[
            GuideMaterial(
                id=m.id,
                title=m.title,
                how="书面承诺（告知承诺制）" if m.commitment else m.copies,
                commitment=m.commitment is not None,
                exempt_reason=m.exempt_reason,
                basis=m.basis,
            )
            for m in rs.materials
        ],
        fields=fields,
        shared_data=sorted({f"{lk.title}（{_registry_title(lk.registry)}）" for lk in rs.lookups.values()}),
        parameters=[
            GuideParameter(title=p.title, value=str(p.value), local=p.local, basis=p.basis)
            for p in rs.parameters.values()
        ],
        consult=f"{it.department}；{CONSULT_HOTLINE}",
    )


def render_guide(program: Program) -> str:
    g = guide_of(program)
    lines: list[str] = []
    add = lines.append
    add(f"# {g.name} 办事指南（一次告知单）")
    add("")
    add("| 项目 | 内容 |")
    add("| --- | --- |")
    add(f"| 事项编码 | {g.code} |")
    add(f"| 事项名称 | {g.name} |")
    add(f"| 实施机关 | {g.department} |")
    add(f"| 办件类型 | {g.kind} |")
    add(f"| 申请对象 | {g.applicant_kind_label} |")
    if g.scope:
        add(f"| 适用范围 | {g.scope} |")
    if g.legal_time_limit_days is not None:
        add(f"| 法定办结时限 | {g.legal_time_limit_days} 个工作日 |")
    add(f"| 承诺办结时限 | {g.time_limit_days} 个工作日（符合全部条件的即时办结，秒批） |")
    add(f"| 收费标准 | {g.fees} |")
    add(f"| 办理结果 | {g.result} |")
    add(f"| 规则版本 | {g.version}（sha256 {g.sha256[:16]}…） |")
    add(f"| 咨询方式 | {g.consult} |")
    add("")
    add("## 设定依据")
    add("")
    for b in g.basis:
        add(f"- {b}")
    add("")
    add("## 办理条件")
    add("")
    add("以下条件逐项由系统核验；全部满足的即时办结。任一条件不满足或无法核验的，一次性告知全部原因。")
    add("")
    add("| 序号 | 条件 | 不满足时 | 依据 |")
    add("| --- | --- | --- | --- |")
    for i, c in enumerate(g.conditions, 1):
        add(f"| {i} | {c.title} | {c.on_fail} | {c.basis} |")
    add("")
    add("## 申请材料")
    add("")
    add("| 序号 | 材料名称 | 提交方式 | 免提交情形 |")
    add("| --- | --- | --- | --- |")
    for i, m in enumerate(g.materials, 1):
        add(f"| {i} | {m.title} | {m.how} | {m.exempt_reason or '—'} |")
    add("")
    add("## 申报信息")
    add("")
    add("| 字段 | 名称 | 类型 | 说明 |")
    add("| --- | --- | --- | --- |")
    for f in g.fields:
        add(f"| {f.name} | {f.title} | {f.type} | {'；'.join(f.notes) or '—'} |")
    add("")
    if g.shared_data:
        add("## 通过共享数据核验（无需申请人提供）")
        add("")
        for s in g.shared_data:
            add(f"- {s}")
        add("")
    if g.parameters:
        add("## 参数")
        add("")
        for p in g.parameters:
            tag = "（地方参数）" if p.local else ""
            basis = f"，依据：{p.basis}" if p.basis else ""
            add(f"- {p.title}{tag}：{p.value}{basis}")
        add("")
    if any(p.local for p in g.parameters):
        add("> 标注“地方参数”的数值由本地规定，不同地区可能不同。")
        add("")
    return "\n".join(lines)
