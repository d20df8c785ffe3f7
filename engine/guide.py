"""The 办事指南 / 一次告知单 in Markdown, generated from the ruleset alone."""

from __future__ import annotations

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


def _registry_title(name: str) -> str:
    """A registry's declared Chinese title (its name when it is not in the catalogue)."""
    registry = REGISTRIES.get(name)
    return registry.title if registry is not None else name


def render_guide(program: Program) -> str:
    rs: Ruleset = program.ruleset
    it = rs.item
    lines: list[str] = []
    add = lines.append
    add(f"# {it.name} 办事指南（一次告知单）")
    add("")
    add("| 项目 | 内容 |")
    add("| --- | --- |")
    add(f"| 事项编码 | {it.code} |")
    add(f"| 事项名称 | {it.name} |")
    add(f"| 实施机关 | {it.department} |")
    add(f"| 办件类型 | {it.kind} |")
    add(f"| 申请对象 | {'自然人' if it.applicant_kind == 'person' else '企业法人'} |")
    if it.scope:
        add(f"| 适用范围 | {it.scope} |")
    if it.legal_time_limit_days is not None:
        add(f"| 法定办结时限 | {it.legal_time_limit_days} 个工作日 |")
    add(f"| 承诺办结时限 | {it.time_limit_days} 个工作日（符合全部条件的即时办结，秒批） |")
    add(f"| 收费标准 | {it.fees} |")
    add(f"| 办理结果 | {it.result} |")
    add(f"| 规则版本 | {rs.version}（sha256 {program.sha256[:16]}…） |")
    add("")
    add("## 设定依据")
    add("")
    for b in it.basis:
        add(f"- {b}")
    add("")
    add("## 办理条件")
    add("")
    add("以下条件逐项由系统核验；全部满足的即时办结。任一条件不满足或无法核验的，一次性告知全部原因。")
    add("")
    add("| 序号 | 条件 | 不满足时 | 依据 |")
    add("| --- | --- | --- | --- |")
    for i, c in enumerate(rs.conditions, 1):
        add(f"| {i} | {c.title} | {ON_FAIL[c.on_fail]} | {c.basis} |")
    add("")
    add("## 申请材料")
    add("")
    add("| 序号 | 材料名称 | 提交方式 | 免提交情形 |")
    add("| --- | --- | --- | --- |")
    for i, m in enumerate(rs.materials, 1):
        how = "书面承诺（告知承诺制）" if m.commitment else m.copies
        exempt = m.exempt_reason or "—"
        add(f"| {i} | {m.title} | {how} | {exempt} |")
    add("")
    add("## 申报信息")
    add("")
    add("| 字段 | 名称 | 类型 | 说明 |")
    add("| --- | --- | --- | --- |")
    for name, f in rs.fields.items():
        notes = []
        if f.choices:
            notes.append("可选：" + "、".join(f"{label}（{v}）" for v, label in f.choices.items()))
        if f.nullable:
            notes.append("无则填 null")
        if f.items:
            notes.append("每项包括：" + "、".join(f"{s.title}（{n}）" for n, s in f.items.items()))
        add(f"| {name} | {f.title} | {FIELD_TYPES[f.type]} | {'；'.join(notes) or '—'} |")
    add("")
    shared = sorted({f"{lk.title}（{_registry_title(lk.registry)}）" for lk in rs.lookups.values()})
    if shared:
        add("## 通过共享数据核验（无需申请人提供）")
        add("")
        for s in shared:
            add(f"- {s}")
        add("")
    local = [(n, p) for n, p in rs.parameters.items() if p.local]
    if rs.parameters:
        add("## 参数")
        add("")
        for p in rs.parameters.values():
            tag = "（地方参数）" if p.local else ""
            basis = f"，依据：{p.basis}" if p.basis else ""
            add(f"- {p.title}{tag}：{p.value}{basis}")
        add("")
    if local:
        add("> 标注“地方参数”的数值由本地规定，不同地区可能不同。")
        add("")
    return "\n".join(lines)
