"""Result documents generated from the ruleset and the decision: the approval's result document
(审批结果文书), the 一次性告知单 of a returned case, and the 不予受理/不予许可 notice of a rejected one.

Everything printed comes from the ruleset (item metadata, output titles, condition titles, legal
basis) and the decision (outputs, conditions, reasons, materials); nothing is written per item.
PDFs are A4, in Chinese with reportlab's built-in CID font STSong-Light (no font file; readers
substitute a system Song font), and carry the verification code on every page and a QR code of the
verification address. ID numbers in printed reasons are masked: a notice may be shown to others.

`new_verification_code()` gives 15 random Crockford base-32 characters (75 bits) and a Luhn mod 32
check character, grouped as XXXX-XXXX-XXXX-XXXX: unguessable, and a mistyped character is caught
before any look-up. `grants` is the small JSON summary the service stores to answer verification.

The module is longer than the others (about 600 lines) on purpose: the three documents share one page
layout, its styles and helpers; split by document they would only import each other's pieces. Issuing,
downloading and verifying a result are in service/results.py.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from xml.sax.saxutils import escape

import segno
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from engine.case import CHINA_TZ
from engine.decision import Decision, Reason
from engine.errors import ApprovalError
from engine.model import Output, Ruleset
from extractors.parsers import amount_to_capitals
from service.masking import mask_text

ResultKind = Literal["approval", "correction_notice", "refusal_notice"]

FONT = "STSong-Light"
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32: no I, L, O, U
CODE_PAYLOAD = 15
_CODE_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})

REMEDIES = (
    "申请人如对本决定不服，可以自收到本决定书之日起六十日内依法申请行政复议，"
    "或者自收到本决定书之日起六个月内依法向人民法院提起行政诉讼。"
)
COMMITMENT_NOTE = (
    "本件依申请人书面承诺办理（告知承诺）。申请人应当对承诺内容的真实性负责；"
    "经事后核查发现承诺不实的，依法撤销办理结果，并将失信信息记入信用记录。"
)


class ResultError(ApprovalError):
    """A result document cannot be produced from what was given (wrong outcome, mismatched
    ruleset, malformed verification code...). Nothing is rendered."""

    code = "result_not_renderable"


@dataclass(frozen=True)
class RenderedResult:
    kind: ResultKind
    title: str
    pdf: bytes
    grants: dict[str, Any] = field(default_factory=dict)
    """What the document grants or notifies, for verification (JSON-ready)."""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()


# -- verification codes ----------------------------------------------------------------------------


def _check_character(payload: str) -> str:
    """Luhn mod 32 over the Crockford alphabet: catches every single wrong character and most
    swaps of neighbours."""
    n = len(CODE_ALPHABET)
    total, factor = 0, 2
    for ch in reversed(payload):
        addend = factor * CODE_ALPHABET.index(ch)
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return CODE_ALPHABET[(n - total % n) % n]


def _group(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def new_verification_code() -> str:
    """A fresh verification code such as 7KQ2-M9XD-4TZB-HR0C (75 random bits and a check character)."""
    payload = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_PAYLOAD))
    return _group(payload + _check_character(payload))


def normalize_code(code: str) -> str:
    """The canonical form of a code as typed: upper case, spaces and dashes ignored, O read as 0 and
    I, L as 1; grouped by four. Raises ValueError when it is not a well-formed code."""
    raw = "".join(code.split()).replace("-", "").upper().translate(_CODE_ALIASES)
    if len(raw) != CODE_PAYLOAD + 1 or any(ch not in CODE_ALPHABET for ch in raw):
        raise ValueError("验证码应为 16 位字母或数字")
    if _check_character(raw[:-1]) != raw[-1]:
        raise ValueError("验证码校验位不符，请核对是否输错")
    return _group(raw)


def is_well_formed(code: str) -> bool:
    """Whether `code` (as typed) is a well-formed verification code, check character included."""
    try:
        normalize_code(code)
    except ValueError:
        return False
    return True


# -- values as printed -----------------------------------------------------------------------------


def _date_text(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _money_text(value: Any) -> str:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    text = f"{amount:,.2f} 元"
    try:
        return f"{text}（大写：{amount_to_capitals(amount)}）"
    except ValueError:
        return text


def _output_text(out: Output, value: Any) -> str:
    if value is None:
        return "无"
    if out.type == "money":
        return _money_text(value)
    if out.type == "date":
        try:
            return _date_text(date.fromisoformat(str(value)))
        except ValueError:
            return str(value)
    if out.type == "boolean":
        return "是" if value is True else "否" if value is False else str(value)
    if out.labels and str(value) in out.labels:
        return out.labels[str(value)]
    return str(value)


def _validity(ruleset: Ruleset, outputs: dict[str, Any]) -> str | None:
    """The date a granted result is valid until: a date output whose title speaks of 有效期."""
    for name, out in ruleset.outputs.items():
        if out.type == "date" and "有效期" in out.title and outputs.get(name):
            return str(outputs[name])
    return None


# -- layout ----------------------------------------------------------------------------------------


def _register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _style(name: str, size: float, **kw: Any) -> ParagraphStyle:
    return ParagraphStyle(name, fontName=FONT, fontSize=size, leading=size * 1.5, wordWrap="CJK", **kw)


class _Styles:
    def __init__(self) -> None:
        _register_font()
        self.title = _style("title", 20, alignment=TA_CENTER, spaceAfter=2 * mm)
        self.subtitle = _style("subtitle", 12, alignment=TA_CENTER, spaceAfter=4 * mm)
        self.head = _style("head", 13, spaceBefore=4 * mm, spaceAfter=2 * mm)
        self.body = _style("body", 10.5)
        self.indent = _style("indent", 10.5, firstLineIndent=21)
        self.small = _style("small", 8.5, textColor=colors.HexColor("#444444"))
        self.right = _style("right", 10.5, alignment=TA_RIGHT)
        self.cell = _style("cell", 9.5)


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _table(rows: list[list[str]], widths: list[float], st: _Styles, *, header: bool = True) -> Table:
    data = [[_p(cell, st.cell) for cell in row] for row in rows]
    table = Table(data, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEEEEE")))
    table.setStyle(TableStyle(style))
    return table


def _qr_image(url: str, size: float) -> Image:
    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="png", scale=6, border=2)
    buf.seek(0)
    return Image(buf, width=size, height=size)


@dataclass(frozen=True)
class _Common:
    ruleset: Ruleset
    decision: Decision
    applicant: str
    code: str
    verify_url: str
    issued_at: datetime
    review: str | None = None
    """The approver's comment when a person decided the case after review (人工审核)."""


def _header(c: _Common, title: str, subtitle: str | None, st: _Styles) -> list[Flowable]:
    out: list[Flowable] = [_p(c.ruleset.item.department, st.subtitle), _p(title, st.title)]
    if subtitle:
        out.append(_p(subtitle, st.subtitle))
    out.append(_p(f"验证码：{c.code}", st.right))
    out.append(Spacer(1, 3 * mm))
    item = c.ruleset.item
    rows = [
        ["事项名称", item.name],
        ["事项编码", item.code],
        ["实施机关", item.department],
        ["申请人", c.applicant],
        ["办件编号", c.decision.case_id or "（未编号）"],
    ]
    out.append(_table(rows, [30 * mm, 140 * mm], st, header=False))
    return out


def _footer(c: _Common, st: _Styles, *, signoff: bool = True) -> list[Flowable]:
    out: list[Flowable] = [Spacer(1, 6 * mm)]
    if signoff:
        out.append(_p(c.ruleset.item.department, st.right))
        out.append(_p(_date_text(c.issued_at.astimezone(CHINA_TZ).date()), st.right))
        out.append(Spacer(1, 4 * mm))
    rs = c.decision.ruleset
    text = [
        f"验证码：{c.code}",
        f"验证网址：{c.verify_url}",
        "扫描右侧二维码或登录验证网址输入验证码，可核验本文书的真实性及内容。",
        f"本文书由秒批系统依据规则集 {rs.id} 第 {rs.version} 版（{rs.sha256[:16]}）自动生成，"
        f"签发时间 {c.issued_at.astimezone(CHINA_TZ).strftime('%Y-%m-%d %H:%M')}。",
    ]
    left = [_p(t, st.small) for t in text]
    box = Table([[left, _qr_image(c.verify_url, 30 * mm)]], colWidths=[138 * mm, 32 * mm])
    box.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.5, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    out.append(box)
    return out


def _basis(c: _Common, st: _Styles) -> list[Flowable]:
    out: list[Flowable] = [_p("设定依据", st.head)]
    out += [_p(f"{i}. {b}", st.body) for i, b in enumerate(c.ruleset.item.basis, 1)]
    return out


def _build_pdf(c: _Common, title: str, story: list[Flowable]) -> bytes:
    _register_font()
    buf = io.BytesIO()

    def on_page(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.drawString(20 * mm, 12 * mm, f"{title}　验证码 {c.code}")
        canvas.drawRightString(190 * mm, 12 * mm, f"第 {doc.page} 页")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=20 * mm,
        title=title,
        author=c.ruleset.item.department,
        subject=f"{c.ruleset.item.name} {c.decision.case_id or ''}".strip(),
        creator="秒批 miaopi",
        invariant=True,
    )
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buf.getvalue()


def _clean(text: str) -> str:
    return mask_text(text)


def _you(c: _Common) -> str:
    return "你单位" if c.ruleset.item.applicant_kind == "enterprise" else "你"


def _grants(c: _Common, kind: ResultKind, title: str) -> dict[str, Any]:
    item = c.ruleset.item
    return {
        "kind": kind,
        "title": title,
        "item": {"id": item.id, "code": item.code, "name": item.name, "department": item.department},
        "case_id": c.decision.case_id,
        "applicant": c.applicant,
        "ruleset": c.decision.ruleset.model_dump(mode="json"),
        "verification_code": c.code,
        "issued_at": c.issued_at.astimezone(CHINA_TZ).isoformat(),
    }


# -- the three documents ---------------------------------------------------------------------------


def _approval(c: _Common) -> RenderedResult:
    d, rs = c.decision, c.ruleset
    if d.outcome != "approved":
        raise ResultError(f"办件结果为 {d.outcome}，不能出具审批结果文书", path="decision.outcome")
    not_passed = [x.id for x in d.conditions if x.status != "pass"]
    if c.review is None and (not_passed or d.reasons or d.missing_materials):
        raise ResultError(
            f"决定为通过，但仍有未通过的条件或理由（{', '.join(not_passed) or '理由非空'}），"
            "不能出具结果文书",
            path="decision",
        )
    st = _Styles()
    title = rs.item.result
    story = _header(c, title, None, st)
    basis_text = "经与共享数据核验，符合全部办理条件" if c.review is None else "经人工审核"
    story.append(
        _p(
            f"{c.applicant}：{_you(c)}申请办理的“{rs.item.name}”，{basis_text}，准予办理。结果如下：",
            st.indent,
        )
    )
    story.append(_p("一、办理结果", st.head))
    rows = [["项目", "内容"]]
    outputs: dict[str, Any] = {}
    for name, out in rs.outputs.items():
        if name in d.outputs:
            rows.append([out.title, _clean(_output_text(out, d.outputs[name]))])
            outputs[name] = {"title": out.title, "type": out.type, "value": d.outputs[name]}
    unknown = sorted(set(d.outputs) - set(rs.outputs))
    if unknown:
        raise ResultError(f"决定中的输出 {', '.join(unknown)} 不在规则集中", path="decision.outputs")
    if len(rows) == 1:
        rows.append(["办理结果", "准予办理"])
    story.append(_table(rows, [55 * mm, 115 * mm], st))
    story.append(_p("二、已核验的条件", st.head))
    cond_rows = [["序号", "条件", "结果", "依据"]]
    for i, x in enumerate(d.conditions, 1):
        cond_rows.append([str(i), x.title, "符合" if x.status == "pass" else "经人工审核认定", x.basis])
    story.append(_table(cond_rows, [12 * mm, 78 * mm, 14 * mm, 66 * mm], st))
    exempt = [m for m in d.materials if m.status == "exempt"]
    committed = [m for spec in rs.materials if spec.commitment for m in d.materials if m.id == spec.id]
    committed = [m for m in committed if m.status == "supplied"]
    if exempt or committed:
        story.append(_p("三、材料", st.head))
        mat_rows = [["材料", "情况"]]
        mat_rows += [[m.title, m.reason or "免于提交"] for m in exempt]
        mat_rows += [[m.title, "已书面承诺"] for m in committed]
        story.append(_table(mat_rows, [70 * mm, 100 * mm], st))
    if committed:
        story.append(Spacer(1, 2 * mm))
        story.append(_p(COMMITMENT_NOTE, st.indent))
    if c.review is not None:
        story.append(_p("审核意见", st.head))
        story.append(_p(_clean(c.review), st.indent))
    story += _basis(c, st)
    story += _footer(c, st)
    grants = _grants(c, "approval", title)
    grants["result"] = rs.item.result
    grants["outputs"] = outputs
    grants["valid_until"] = _validity(rs, d.outputs)
    grants["on_commitment"] = bool(committed)
    return RenderedResult(kind="approval", title=title, pdf=_build_pdf(c, title, story), grants=grants)


def _reason_rows(reasons: list[Reason], start: int = 1) -> list[list[str]]:
    rows = [["序号", "问题及原因", "依据"]]
    for i, r in enumerate(reasons, start):
        rows.append([str(i), _clean(r.message), r.basis or "—"])
    return rows


REVIEWER = "reviewer"
"""The condition id of the reason an approver gives when deciding after review."""


def _by_reviewer(c: _Common, r: Reason) -> bool:
    """A reason the approver gave (after review, their comment is itself a ground)."""
    return c.review is not None and r.condition == REVIEWER


def _on_fail(d: Decision) -> dict[str, str]:
    return {x.id: x.on_fail for x in d.conditions}


def _correction_notice(c: _Common) -> RenderedResult:
    d, rs = c.decision, c.ruleset
    if d.outcome != "returned":
        raise ResultError(f"办件结果为 {d.outcome}，不能出具一次性告知单", path="decision.outcome")
    effect = _on_fail(d)
    materials = [r for r in d.reasons if r.status == "missing_material"]
    to_correct = [
        r
        for r in d.reasons
        if r.status == "fail" and (effect.get(r.condition) == "return" or _by_reviewer(c, r))
    ]
    others = [r for r in d.reasons if r not in materials and r not in to_correct]
    if not materials and not to_correct:
        raise ResultError("退回补正的决定中没有需补正的材料或退回理由", path="decision.reasons")
    st = _Styles()
    title = "一次性告知单"
    subtitle = "（补正材料通知）"
    story = _header(c, title, subtitle, st)
    story.append(
        _p(
            f"{c.applicant}：{_you(c)}申请办理的“{rs.item.name}”，经审查，申请材料不齐全或者不符合要求。"
            f"现将需要补正的全部内容一次性告知如下：",
            st.indent,
        )
    )
    n = 0
    section = iter("一二三四")
    if materials:
        story.append(_p(f"{next(section)}、需补正的材料", st.head))
        rows = [["序号", "材料", "原因", "依据"]]
        titles = {f"material.{m.id}": m.title for m in d.missing_materials}
        for r in materials:
            n += 1
            rows.append([str(n), titles.get(r.condition, r.condition), _clean(r.message), r.basis or "—"])
        story.append(_table(rows, [12 * mm, 40 * mm, 70 * mm, 48 * mm], st))
    if to_correct:
        story.append(_p(f"{next(section)}、需更正的事项", st.head))
        story.append(_table(_reason_rows(to_correct, n + 1), [12 * mm, 100 * mm, 58 * mm], st))
        n += len(to_correct)
    if others:
        story.append(_p(f"{next(section)}、补正后一并核实的事项", st.head))
        story.append(_table(_reason_rows(others, n + 1), [12 * mm, 100 * mm, 58 * mm], st))
    story.append(Spacer(1, 3 * mm))
    days = rs.item.time_limit_days
    limit = "当场办结" if days == 0 else f"自受理次日起 {days} 个工作日内办结"
    story.append(
        _p(
            f"请按上述要求一次性补正后重新提交申请。补正齐全后，本机关依法受理，并按承诺时限（{limit}）办理。",
            st.indent,
        )
    )
    story += _footer(c, st)
    grants = _grants(c, "correction_notice", title)
    grants["result"] = None
    grants["materials"] = [m.id for m in d.missing_materials]
    grants["reasons"] = [r.condition for r in d.reasons]
    return RenderedResult(
        kind="correction_notice", title=title, pdf=_build_pdf(c, title, story), grants=grants
    )


def refusal_title(ruleset: Ruleset) -> str:
    """不予许可决定书 for an administrative licence (the item speaks of 许可), otherwise 不予受理通知书."""
    item = ruleset.item
    if "许可" in item.name or "许可" in item.result:
        return "不予许可决定书"
    return "不予受理通知书"


def _refusal_notice(c: _Common) -> RenderedResult:
    d, rs = c.decision, c.ruleset
    if d.outcome != "rejected":
        raise ResultError(f"办件结果为 {d.outcome}，不能出具不予受理/不予许可文书", path="decision.outcome")
    effect = _on_fail(d)
    grounds = [
        r
        for r in d.reasons
        if r.status == "fail" and (effect.get(r.condition) == "reject" or _by_reviewer(c, r))
    ]
    if not grounds:
        raise ResultError("不予受理/不予许可的决定中没有可据以拒绝的理由", path="decision.reasons")
    others = [r for r in d.reasons if r not in grounds]
    st = _Styles()
    title = refusal_title(rs)
    verb = "不予许可" if title.startswith("不予许可") else "不予受理"
    story = _header(c, title, None, st)
    story.append(
        _p(
            f"{c.applicant}：{_you(c)}申请办理的“{rs.item.name}”，经审查，不符合下列法定条件，"
            f"根据下列依据，决定{verb}。",
            st.indent,
        )
    )
    story.append(_p(f"一、{verb}的理由及依据", st.head))
    story.append(_table(_reason_rows(grounds), [12 * mm, 100 * mm, 58 * mm], st))
    section = iter("二三")
    if others:
        story.append(_p(f"{next(section)}、审查中发现的其他问题", st.head))
        story.append(_table(_reason_rows(others, len(grounds) + 1), [12 * mm, 100 * mm, 58 * mm], st))
    story.append(_p(f"{next(section)}、权利告知", st.head))
    story.append(_p(REMEDIES, st.indent))
    story += _footer(c, st)
    grants = _grants(c, "refusal_notice", title)
    grants["result"] = None
    grants["reasons"] = [r.condition for r in d.reasons]
    grants["grounds"] = [r.condition for r in grounds]
    return RenderedResult(kind="refusal_notice", title=title, pdf=_build_pdf(c, title, story), grants=grants)


# -- entry points ----------------------------------------------------------------------------------

KIND_BY_OUTCOME: dict[str, ResultKind] = {
    "approved": "approval",
    "returned": "correction_notice",
    "rejected": "refusal_notice",
}


def result_kind(outcome: str) -> ResultKind | None:
    """The document an outcome gets; None for review (the approver decides first)."""
    return KIND_BY_OUTCOME.get(outcome)


def render_result(
    *,
    ruleset: Ruleset,
    decision: Decision,
    applicant_name: str,
    verification_code: str,
    verify_url: str,
    issued_at: datetime,
    kind: ResultKind | None = None,
    review: str | None = None,
) -> RenderedResult:
    """The result document of a decided case. `review` is the approver's comment when a person
    decided after review: an approval may then stand on conditions the engine could not confirm.
    `kind` defaults to what the outcome gets; asking for
    another kind, or rendering a review decision, raises ResultError, as do a ruleset of another
    item or version, a malformed code or address, and a naive `issued_at`."""
    if decision.item != ruleset.item.id:
        raise ResultError(f"决定属于事项 {decision.item}，规则集为 {ruleset.item.id}", path="ruleset.item.id")
    if decision.ruleset.version != ruleset.version:
        raise ResultError(
            f"决定依据规则集第 {decision.ruleset.version} 版作出，给出的是第 {ruleset.version} 版",
            path="ruleset.version",
        )
    try:
        code = normalize_code(verification_code)
    except ValueError as exc:
        raise ResultError(str(exc), path="verification_code") from exc
    if not verify_url.startswith(("https://", "http://")) or any(ch.isspace() for ch in verify_url):
        raise ResultError("验证网址应为 http(s) 地址", path="verify_url")
    if len(verify_url) > 500:
        raise ResultError("验证网址过长", path="verify_url")
    name = applicant_name.strip()
    if not name:
        raise ResultError("申请人名称不能为空", path="applicant_name")
    if issued_at.tzinfo is None or issued_at.utcoffset() is None:
        raise ResultError("签发时间必须带时区", path="issued_at")
    wanted = kind or result_kind(decision.outcome)
    if wanted is None:
        raise ResultError(
            f"办件结果为 {decision.outcome}（转人工审核），尚无结果文书", path="decision.outcome"
        )
    common = _Common(ruleset, decision, name, code, verify_url, issued_at, review)
    if wanted == "approval":
        return _approval(common)
    if wanted == "correction_notice":
        return _correction_notice(common)
    return _refusal_notice(common)
