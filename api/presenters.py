"""What the approvers' pages show and how: the Chinese labels of outcomes, statuses, cards and choices,
values as an approver reads them, instants in China time, working days left, and the sources behind a
condition's values (a registry record's columns titled, and its coded values labelled, from the
registry declarations)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.case import CHINA_TZ
from engine.labels import Labels, coded_labels, labelled
from engine.model import Ruleset
from engine.registries import REGISTRIES
from service import sla
from service.records import decode_value

OUTCOMES = {
    "approved": "准予（秒批通过）",
    "review": "转人工审核",
    "returned": "退回补正",
    "rejected": "不予受理/不予许可",
    "confirmed": "核查无误",
    "revoked": "已撤销",
    "closed": "已回访办结",
}
PERSON_OUTCOMES = {**OUTCOMES, "approved": "准予（人工审核通过）"}
"""An approver's decision: an approval by a person is not 秒批."""


def case_outcome(outcome: str | None, *, engine_outcome: str | None) -> str:
    """The label of a case's outcome: 秒批 only when the engine's own approval stands; an outcome an
    approver set differs from the engine's and is labelled as a person's decision."""
    if not outcome:
        return "尚未作出"
    labels = PERSON_OUTCOMES if engine_outcome and engine_outcome != outcome else OUTCOMES
    return labels.get(outcome, outcome)


CASE_STATUSES = {
    "queued": "排队待审",
    "processing": "引擎审查中",
    "decided": "已作出决定",
    "failed": "系统处理失败",
}
TASK_KINDS = {"review": "人工审核", "post_check": "事后核查", "follow_up": "差评回访整改"}
TASK_STATUSES = {"open": "待认领", "claimed": "已认领", "done": "已办结"}
CARDS = {"red": "红牌", "yellow": "黄牌", "green": "绿牌"}
CARD_HINTS = {"red": "已超期", "yellow": "剩余不足一个工作日", "green": "时限内"}
CONDITION_STATUSES = {"pass": "通过", "fail": "未通过", "unknown": "无法判断"}
MATERIAL_STATUSES = {
    "supplied": "已提交",
    "exempt": "免提交",
    "missing": "缺少",
    "invalid": "无法读取",
    "committed": "告知承诺",
}
RESULT_KINDS = {
    "approval": "准予文书",
    "correction_notice": "一次性告知单",
    "refusal_notice": "不予受理/不予许可通知",
}
DECISION_CHOICES = {
    "review": [
        ("approve", "准予办理", "各项条件经人工核实成立，签发结果文书"),
        ("return", "退回补正", "一次性告知申请人需补正的全部内容"),
        ("reject", "不予办理", "依法不予受理或不予许可，并告知理由和救济途径"),
    ],
    "post_check": [
        ("confirm", "核查无误", "承诺属实，维持已签发的结果"),
        ("revoke", "撤销审批结果", "承诺不实，撤销已签发的结果文书"),
    ],
    "follow_up": [
        ("close", "回访办结", "已回访申请人并处理差评反映的问题，写明处理情况"),
    ],
}
APPLICANT_FIELDS = {
    "name": "姓名/名称",
    "id_number": "身份证号码",
    "credit_code": "统一社会信用代码",
    "kind": "申请人类型",
}
CASE_FIELDS = {"submitted_on": "申请日期", "submitted_at": "申请时间", "case_id": "案件编号"}
MESSAGES = {
    "claimed": "已认领任务，请核实后作出决定。",
    "released": "已释放任务，其他审批人员可以认领。",
    "decided": "已作出决定，结果文书已生成。",
    "signed_out": "已退出登录。",
}


# -- values -----------------------------------------------------------------------------------------
# -- rendering helpers ----------------------------------------------------------------------------------
def china(value: datetime | str | None, fmt: str = "%Y年%m月%d日 %H:%M") -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(CHINA_TZ).strftime(fmt)


def show(value: Any) -> str:
    """A value as an approver reads it."""
    value = decode_value(value)
    if value is None:
        return "（空）"
    if value is True:
        return "是"
    if value is False:
        return "否"
    if isinstance(value, list | tuple):
        return "、".join(show(v) for v in value) if value else "（无）"
    if isinstance(value, dict):
        return "；".join(f"{k}：{show(v)}" for k, v in value.items())
    return str(value)


def output_text(labels: dict[str, str] | None, value: Any) -> str:
    """A computed output as printed: coded values in their Chinese wording."""
    if labels and str(value) in labels:
        return labels[str(value)]
    return show(value)


def days_left(due: datetime, now: datetime) -> str:
    left = sla.working_days_left(due, now)
    if left < 0:
        return f"已超期 {-left} 个工作日"
    if left == 0:
        return "今日到期"
    return f"剩余 {left} 个工作日"


def column_title(registry: str, column: str) -> str:
    """A registry column's title from the catalogue (the column's name when it is not there)."""
    spec = REGISTRIES.get(registry)
    col = spec.column(column) if spec else None
    return col.title if col is not None and col.title else column


def cell(registry: str, column: str, value: Any) -> str:
    """A registry value as an approver reads it: a code of an enum column as its declared label."""
    spec = REGISTRIES.get(registry)
    col = spec.column(column) if spec else None
    return show(col.label(decode_value(value)) if col is not None else value)


def value_labels(ruleset: Ruleset | None) -> dict[str, Labels]:
    """The labels of the coded registry values the ruleset's fact paths hold (engine.labels)."""
    return coded_labels(ruleset) if ruleset is not None else {}


def fact_text(path: str, value: Any, labels: dict[str, Labels]) -> str:
    """A condition's value (by its fact path) as an approver reads it, codes as their labels."""
    return show(labelled(decode_value(value), labels.get(path)))


# -- decisions: sources, documents, records -----------------------------------------------------------
@dataclass
class Located:
    """An extracted field placed on a page image."""

    number: str
    name: str
    title: str
    value: str
    raw: str
    confidence: float | None
    page: int
    x: float
    y: float
    w: float
    h: float
    flagged: bool
    anchor: str


def source_view(
    src: Any, *, ruleset: Ruleset | None, anchors: dict[tuple[str, int, tuple[float, ...]], str]
) -> dict[str, Any]:
    """One source of a value as a label, an optional link to the outlined field, and its own sources."""
    if not isinstance(src, dict):
        return {"label": show(src), "children": []}
    kind = src.get("kind")
    field = str(src.get("field", ""))
    children: list[dict[str, Any]] = []
    anchor = None
    detail = None
    if kind == "form":
        spec = ruleset.fields.get(field.split(".")[0]) if ruleset else None
        label = f"申报表：{spec.title if spec else field}"
    elif kind == "applicant":
        label = f"申请人信息：{APPLICANT_FIELDS.get(field, field)}"
    elif kind == "case":
        label = f"案件信息：{CASE_FIELDS.get(field, field)}"
    elif kind == "params":
        param = ruleset.parameters.get(field) if ruleset else None
        label = f"参数：{param.title if param else field}"
        if param is not None:
            detail = f"取值 {param.value}" + ("（本地参数）" if param.local else "")
    elif kind == "registry":
        keys = src.get("keys") or []
        registry = str(src.get("registry", ""))
        label = str(src.get("title") or src.get("registry"))
        detail = (
            "；".join(
                "，".join(f"{column_title(registry, k)} {cell(registry, k, v)}" for k, v in key.items())
                for key in keys
                if key
            )
            if keys
            else "未查到记录"
        ) or "未查到记录"
    elif kind == "derived":
        label = f"推算：{src.get('title', '')}"
        detail = str(src.get("expr", "")) or None
        children = [source_view(s, ruleset=ruleset, anchors=anchors) for s in src.get("from") or []]
    elif kind == "table":
        label = f"决策表：{src.get('title', '')}"
        if src.get("row") is not None:
            detail = f"命中第 {src['row']} 行"
        children = [source_view(s, ruleset=ruleset, anchors=anchors) for s in src.get("from") or []]
    elif kind == "document":
        title = material_title(ruleset, str(src.get("document", "")))
        if src.get("supplied") is False:
            label = f"材料：{title}（未提交）"
        else:
            label = f"材料：{title}"
            page = src.get("page")
            parts = []
            if page is not None:
                parts.append(f"第 {page} 页")
            if src.get("confidence") is not None:
                parts.append(f"置信度 {float(src['confidence']):.2f}")
            if src.get("raw"):
                parts.append(f"原文“{src['raw']}”")
            detail = "，".join(parts) or None
            box = src.get("box")
            if page is not None and box:
                anchor = anchors.get((str(src.get("document")), int(page), tuple(float(b) for b in box)))
    else:
        label = json.dumps(src, ensure_ascii=False)
    return {"label": label, "detail": detail, "anchor": anchor, "children": children}


def material_title(ruleset: Ruleset | None, kind: str) -> str:
    if ruleset is not None:
        for m in ruleset.materials:
            if (m.document_kind or m.id) == kind:
                return m.title
    return kind


def doc_field_titles(ruleset: Ruleset | None, kind: str) -> dict[str, str]:
    if ruleset is not None:
        for m in ruleset.materials:
            if (m.document_kind or m.id) == kind:
                return {name: f.title for name, f in m.fields.items()}
    return {}


def flagged_boxes(conditions: list[dict[str, Any]]) -> set[tuple[str, int, tuple[float, ...]]]:
    """Document boxes behind the conditions that did not pass."""
    out: set[tuple[str, int, tuple[float, ...]]] = set()

    def walk(src: Any) -> None:
        if not isinstance(src, dict):
            return
        if src.get("kind") == "document" and src.get("box") and src.get("page") is not None:
            out.add((str(src.get("document")), int(src["page"]), tuple(float(b) for b in src["box"])))
        for s in src.get("from") or []:
            walk(s)

    for c in conditions:
        if c.get("status") != "pass":
            for s in (c.get("sources") or {}).values():
                walk(s)
    return out


def records_view(facts: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for rec in facts.get("records") or []:
        name = str(rec.get("registry", ""))
        registry = REGISTRIES.get(name)
        rows = [
            {k: decode_value(v) for k, v in r.items()} for r in rec.get("rows") or [] if isinstance(r, dict)
        ]
        columns = list(registry.column_names) if registry else sorted({k for r in rows for k in r})
        out.append(
            {
                "registry": name,
                "title": registry.title if registry else name,
                "columns": [(c, column_title(name, c)) for c in columns],
                "rows": [[cell(name, c, r.get(c)) for c in columns] for r in rows],
            }
        )
    return out
