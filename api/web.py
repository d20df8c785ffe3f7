"""The approvers' web pages: sign-in, the review and post-check queues, the case page (conditions,
shared-data records, documents with the extracted fields outlined, claim and decide forms), result
documents and the public verification page.

Server-rendered Jinja2, in Chinese; every form works without JavaScript. Sign-in sets the signed
session cookie of api/deps.py; every POST form carries the session's CSRF token in a hidden field
(the sign-in form a double-submit cookie). Approvers see their own department only; a case of another
department is reported as not found, as in the JSON API.
"""

from __future__ import annotations

import hmac
import io
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import (
    SESSION_COOKIE,
    ServicesDep,
    SessionDep,
    WebSession,
    csrf_ok,
    new_session,
    session_key,
    web_session,
)
from engine.case import CHINA_TZ
from engine.model import Ruleset
from engine.registries import REGISTRIES
from extractors.errors import DocumentError
from extractors.images import ImageFile
from extractors.options import ExtractOptions
from extractors.pdf import PdfFile
from extractors.sniff import JPEG, PDF, PNG, TIFF
from service import cases as _cases
from service import container, sla, transactions, users
from service import results as _results
from service import review as _review
from service import rulesets as _rulesets
from service import stats as _stats
from service.errors import NotFound, ServiceError
from service.masking import mask_name
from service.records import decode_value
from store.records import CaseDocument, CaseRow, DecisionRow, RulesetVersion, TaskRow, User

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)

LOGIN_COOKIE = "miaopi_login"
STAFF_ROLES = ("approver", "admin", "auditor")
DECIDING_ROLES = ("approver", "admin")
DISPLAY_WIDTH = 1240
"""Page images are served at most this wide (pixels); outlines are placed in percent of the page."""

OUTCOMES = {
    "approved": "准予（秒批通过）",
    "review": "转人工审核",
    "returned": "退回补正",
    "rejected": "不予受理/不予许可",
    "confirmed": "核查无误",
    "revoked": "已撤销",
}
CASE_STATUSES = {
    "queued": "排队待审",
    "processing": "引擎审查中",
    "decided": "已作出决定",
    "failed": "系统处理失败",
}
TASK_KINDS = {"review": "人工审核", "post_check": "事后核查"}
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
}
APPLICANT_FIELDS = {
    "name": "姓名/名称",
    "id_number": "身份证号码",
    "credit_code": "统一社会信用代码",
    "kind": "申请人类型",
}
CASE_FIELDS = {"submitted_on": "申请日期", "submitted_at": "申请时间", "case_id": "案件编号"}
COLUMNS = {
    "id_number": "身份证号码",
    "name": "姓名/名称",
    "gender": "性别",
    "birth_date": "出生日期",
    "status": "状态",
    "spouse_id_number": "配偶身份证号码",
    "registered_on": "登记日期",
    "parent_id_number": "父母身份证号码",
    "child_id_number": "子女身份证号码",
    "cert_no": "证书编号",
    "owner_id_number": "权利人身份证号码",
    "address": "地址",
    "area_m2": "面积（平方米）",
    "usage": "用途",
    "filing_no": "备案号",
    "buyer_id_number": "买受人身份证号码",
    "seller_name": "出卖人",
    "price_yuan": "价格（元）",
    "signed_on": "签订日期",
    "credit_code": "统一社会信用代码",
    "legal_rep_id_number": "法定代表人身份证号码",
    "registered_capital_yuan": "注册资本（元）",
    "established_on": "成立日期",
    "kind": "类别",
    "holder_id": "持有人证件号",
    "holder_name": "持有人",
    "issued_on": "发证日期",
    "expires_on": "有效期至",
    "subject_id": "主体证件号",
    "reason": "事由",
    "listed_on": "列入日期",
    "lifted_on": "移出日期",
    "occurred_on": "发生日期",
    "level": "等级",
    "fatalities": "死亡人数",
    "employer_credit_code": "参保单位信用代码",
    "month": "月份",
}
MESSAGES = {
    "claimed": "已认领任务，请核实后作出决定。",
    "released": "已释放任务，其他审批人员可以认领。",
    "decided": "已作出决定，结果文书已生成。",
    "signed_out": "已退出登录。",
}


# -- errors that the pages turn into a redirect or a page --------------------------------------------
class LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class StaffOnly(Exception):
    pass


class BadCsrf(Exception):
    pass


def install(app: FastAPI) -> None:
    """Add the pages, their static files and their error pages to the application."""
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_url, safe='/')}", status_code=303)

    @app.exception_handler(StaffOnly)
    async def _staff(request: Request, exc: StaffOnly) -> Response:
        return _render(
            request,
            "message.html",
            {
                "title": "本页面供审批工作人员使用",
                "message": "本页面供审批工作人员使用。申请人请通过政务服务网或办事大厅查询办理进度。",
            },
            status=403,
        )

    @app.exception_handler(BadCsrf)
    async def _csrf(request: Request, exc: BadCsrf) -> Response:
        return _render(
            request,
            "message.html",
            {"title": "页面已过期", "message": "表单已过期或来源无法确认，请返回页面刷新后重试。"},
            status=403,
        )


# -- rendering helpers ----------------------------------------------------------------------------------
def _china(value: datetime | str | None, fmt: str = "%Y年%m月%d日 %H:%M") -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(CHINA_TZ).strftime(fmt)


def _show(value: Any) -> str:
    """A value as an approver reads it."""
    value = decode_value(value)
    if value is None:
        return "（空）"
    if value is True:
        return "是"
    if value is False:
        return "否"
    if isinstance(value, list | tuple):
        return "、".join(_show(v) for v in value) if value else "（无）"
    if isinstance(value, dict):
        return "；".join(f"{k}：{_show(v)}" for k, v in value.items())
    return str(value)


def _output_text(labels: dict[str, str] | None, value: Any) -> str:
    """A computed output as printed: coded values in their Chinese wording."""
    if labels and str(value) in labels:
        return labels[str(value)]
    return _show(value)


def _days_left(due: datetime, now: datetime) -> str:
    left = sla.working_days_left(due, now)
    if left < 0:
        return f"已超期 {-left} 个工作日"
    if left == 0:
        return "今日到期"
    return f"剩余 {left} 个工作日"


templates.env.filters["china"] = _china
templates.env.filters["show"] = _show
templates.env.globals.update(
    OUTCOMES=OUTCOMES,
    CASE_STATUSES=CASE_STATUSES,
    TASK_KINDS=TASK_KINDS,
    TASK_STATUSES=TASK_STATUSES,
    CARDS=CARDS,
    CARD_HINTS=CARD_HINTS,
    CONDITION_STATUSES=CONDITION_STATUSES,
    MATERIAL_STATUSES=MATERIAL_STATUSES,
    RESULT_KINDS=RESULT_KINDS,
)


def _render(request: Request, name: str, context: dict[str, Any], *, status: int = 200) -> HTMLResponse:
    signed = getattr(request.state, "web_session", None)
    base = {"me": signed[0] if signed else None, "csrf": signed[1].csrf if signed else ""}
    response = templates.TemplateResponse(request, name, {**base, **context}, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'"
    )
    return response


def _error_page(request: Request, exc: ServiceError) -> HTMLResponse:
    return _render(
        request,
        "message.html",
        {"title": exc.title, "message": exc.message, "problems": exc.problems},
        status=exc.status,
    )


def _staff(
    request: Request, session: Session, *, roles: tuple[str, ...] = STAFF_ROLES
) -> tuple[User, WebSession]:
    signed = web_session(request, session)
    if signed is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path)
    if signed[0].role not in roles:
        raise StaffOnly()
    return signed


def _check_csrf(ws: WebSession, token: str) -> None:
    if not csrf_ok(ws, token):
        raise BadCsrf()


def _safe_next(value: str | None) -> str:
    """Only a path on this site: no scheme, no host, no protocol-relative `//`."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/queue"
    return value


def _now() -> datetime:
    return transactions.utcnow()


# -- rulesets as the pages need them ---------------------------------------------------------------------
def _ruleset_by_sha(services: container.Services, session: Session, sha: str | None) -> Ruleset | None:
    if sha is None:
        return None
    version = session.scalars(select(RulesetVersion).where(RulesetVersion.sha256 == sha)).first()
    return services.rulesets.program_for(version).ruleset if version else None


def _ruleset_of(services: container.Services, session: Session, item: str, at: datetime) -> Ruleset | None:
    try:
        return services.rulesets.program_for(_rulesets.active_version(session, item=item, at=at)).ruleset
    except Exception:
        return None


# -- sign-in ------------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def home() -> Response:
    return RedirectResponse("/queue", status_code=303)


def _login_page(
    request: Request, *, next_url: str, error: str | None = None, status: int = 200, user_id: str = ""
) -> HTMLResponse:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = _render(
        request,
        "login.html",
        {
            "next": next_url,
            "error": error,
            "login_csrf": token,
            "user_id": user_id,
            "message": MESSAGES.get(request.query_params.get("msg", "")),
        },
        status=status,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, session: SessionDep, next: str | None = None) -> Response:
    if web_session(request, session) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, next_url=_safe_next(next))


_DUMMY_HASH = users.hash_password("miaopi-timing-equaliser")


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    user_id: str = Form("", max_length=64),
    password: str = Form("", max_length=200),
    csrf: str = Form("", max_length=100),
    next: str = Form("/queue", max_length=500),
) -> Response:
    next_url = _safe_next(next)
    cookie = request.cookies.get(LOGIN_COOKIE) or ""
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf.encode()):
        return _login_page(
            request,
            next_url=next_url,
            error="登录页面已过期，请重新输入后登录。",
            status=403,
            user_id=user_id,
        )
    user = session.get(User, user_id.strip()) if user_id.strip() else None
    ok = users.check_password(password, user.password_hash if user else _DUMMY_HASH)
    if user is None or not ok:
        return _login_page(
            request, next_url=next_url, error="用户名或密码错误，请重新输入。", status=401, user_id=user_id
        )
    if user.role not in STAFF_ROLES:
        return _login_page(
            request,
            next_url=next_url,
            error="本系统供审批工作人员使用。申请人请通过政务服务网或办事大厅查询办理进度。",
            status=403,
            user_id=user_id,
        )
    _ws, value = new_session(session_key(request), user, hours=services.settings.web_session_hours)
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(services.settings.web_session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, csrf: str = Form("", max_length=100)) -> Response:
    signed = web_session(request, session)
    if signed is not None:
        _check_csrf(signed[1], csrf)
    response = RedirectResponse("/login?msg=signed_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- queues -----------------------------------------------------------------------------------------------
def _queue(
    request: Request, services: container.Services, session: Session, *, kind: str, card: str | None
) -> Response:
    user, _ws = _staff(request, session)
    now = _now()
    if card not in (None, "", "red", "yellow", "green"):
        card = None
    try:
        tasks = _review.list_tasks(session, user=user, now=now, kind=kind, card=card or None)
    except ServiceError as exc:
        return _error_page(request, exc)
    department = user.department if user.role == "approver" else None
    counts = _review.queue_counts(session, department=department, now=now)
    rows = []
    names: dict[str, str] = {}
    for t in tasks:
        case = session.get(CaseRow, t.case_id)
        if case is None:
            continue
        if case.item not in names:
            rs = _ruleset_of(services, session, case.item, now)
            names[case.item] = rs.item.name if rs else case.item
        applicant = case.payload.get("applicant", {}) if isinstance(case.payload, dict) else {}
        view = _review.task_view(t, now=now).model_dump()
        rows.append(
            {
                **view,
                "item": names[case.item],
                "applicant": mask_name(str(applicant.get("name", ""))),
                "received_at": case.received_at,
                "due": t.due_at,
                "days_left": _days_left(t.due_at, now),
                "can_claim": user.role in DECIDING_ROLES
                and (t.status == "open" or (t.status == "claimed" and t.claimed_by != user.id)),
            }
        )
    totals = {k: counts.get(k, {"red": 0, "yellow": 0, "green": 0}) for k in ("review", "post_check")}
    stats = _stats.stats(session, now=now)
    return _render(
        request,
        "queue.html",
        {
            "kind": kind,
            "card": card or None,
            "rows": rows,
            "counts": totals[kind],
            "totals": totals,
            "department": department or "全部部门",
            "auto_rate": stats["auto_approval_rate"],
            "can_decide": user.role in DECIDING_ROLES,
            "path": "/queue" if kind == "review" else "/post-checks",
            "nav": kind,
            "now": now,
        },
    )


@router.get("/queue", response_class=HTMLResponse)
def queue(request: Request, services: ServicesDep, session: SessionDep, card: str | None = None) -> Response:
    return _queue(request, services, session, kind="review", card=card)


@router.get("/post-checks", response_class=HTMLResponse)
def post_checks(
    request: Request, services: ServicesDep, session: SessionDep, card: str | None = None
) -> Response:
    return _queue(request, services, session, kind="post_check", card=card)


# -- the case page ------------------------------------------------------------------------------------------
@dataclass
class _Located:
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


def _source_view(
    src: Any, *, ruleset: Ruleset | None, anchors: dict[tuple[str, int, tuple[float, ...]], str]
) -> dict[str, Any]:
    """One source of a value as a label, an optional link to the outlined field, and its own sources."""
    if not isinstance(src, dict):
        return {"label": _show(src), "children": []}
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
        label = str(src.get("title") or src.get("registry"))
        detail = (
            "；".join(
                "，".join(f"{COLUMNS.get(k, k)} {_show(v)}" for k, v in key.items()) for key in keys if key
            )
            if keys
            else "未查到记录"
        ) or "未查到记录"
    elif kind == "derived":
        label = f"推算：{src.get('title', '')}"
        detail = str(src.get("expr", "")) or None
        children = [_source_view(s, ruleset=ruleset, anchors=anchors) for s in src.get("from") or []]
    elif kind == "table":
        label = f"决策表：{src.get('title', '')}"
        if src.get("row") is not None:
            detail = f"命中第 {src['row']} 行"
        children = [_source_view(s, ruleset=ruleset, anchors=anchors) for s in src.get("from") or []]
    elif kind == "document":
        title = _material_title(ruleset, str(src.get("document", "")))
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


def _material_title(ruleset: Ruleset | None, kind: str) -> str:
    if ruleset is not None:
        for m in ruleset.materials:
            if (m.document_kind or m.id) == kind:
                return m.title
    return kind


def _doc_field_titles(ruleset: Ruleset | None, kind: str) -> dict[str, str]:
    if ruleset is not None:
        for m in ruleset.materials:
            if (m.document_kind or m.id) == kind:
                return {name: f.title for name, f in m.fields.items()}
    return {}


def _flagged_boxes(conditions: list[dict[str, Any]]) -> set[tuple[str, int, tuple[float, ...]]]:
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


def _options(services: container.Services) -> ExtractOptions:
    return services.settings.extract_options()


@lru_cache(maxsize=32)
def _page_image(path: str, media_type: str, page: int, options: ExtractOptions) -> tuple[bytes, float, float]:
    """A page of a stored document as JPEG (at most DISPLAY_WIDTH wide) and the page's size in the unit of
    its extraction boxes: image pixels for scans, PDF points for a usable text layer, rendered pixels
    (at the configured dpi) for a PDF page that was read by OCR. Raises DocumentError."""
    data = Path(path).read_bytes()
    index = page - 1
    if media_type == PDF:
        with PdfFile(data, options=options) as pdf:
            if not 0 <= index < pdf.page_count:
                raise DocumentError("no_page", "没有该页")
            pixels = pdf.render(index, dpi=options.render_dpi, max_pixels=options.max_pixels)
            height, width = pixels.shape[:2]
            try:
                layer = pdf.read_text(index)
            except DocumentError:
                layer = None
            if layer is not None and layer.usable:
                width, height = layer.width, layer.height
    elif media_type in (PNG, JPEG, TIFF):
        with ImageFile(data, media_type=media_type, options=options) as images:
            if not 0 <= index < images.page_count:
                raise DocumentError("no_page", "没有该页")
            pixels = images.page(index)
            height, width = pixels.shape[:2]
    else:
        raise DocumentError("unsupported_type", "不支持的文件类型")
    im = Image.fromarray(pixels)
    if im.width > DISPLAY_WIDTH:
        im = im.resize((DISPLAY_WIDTH, round(im.height * DISPLAY_WIDTH / im.width)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.convert("RGB").save(buf, format="JPEG", quality=82, optimize=True)
    return buf.getvalue(), float(width), float(height)


def _page_count(path: str, media_type: str, options: ExtractOptions) -> int:
    data = Path(path).read_bytes()
    if media_type == PDF:
        with PdfFile(data, options=options) as pdf:
            return int(pdf.page_count)
    with ImageFile(data, media_type=media_type, options=options) as images:
        return int(images.page_count)


def _documents_view(
    services: container.Services,
    session: Session,
    *,
    row: CaseRow,
    facts: dict[str, Any],
    ruleset: Ruleset | None,
    flagged: set[tuple[str, int, tuple[float, ...]]],
) -> tuple[list[dict[str, Any]], dict[tuple[str, int, tuple[float, ...]], str]]:
    docs = session.scalars(
        select(CaseDocument).where(CaseDocument.case_id == row.id).order_by(CaseDocument.id)
    ).all()
    read = facts.get("documents") or {}
    options = _options(services)
    anchors: dict[tuple[str, int, tuple[float, ...]], str] = {}
    out = []
    for d in docs:
        doc_facts = read.get(d.kind) or {}
        if doc_facts.get("path") not in (None, d.ref):
            doc_facts = {}
        titles = _doc_field_titles(ruleset, d.kind)
        path = str(services.blobs.path(d.sha256))
        problem = None
        try:
            pages_total = _page_count(path, d.media_type, options)
        except (DocumentError, OSError) as exc:
            pages_total = 0
            problem = getattr(exc, "message", None) or "文件无法打开"
        located: dict[int, list[_Located]] = {}
        sizes: dict[int, tuple[float, float]] = {}
        fields = []
        number = 0
        for name, loc in (doc_facts.get("locations") or {}).items():
            number += 1
            value = (doc_facts.get("fields") or {}).get(name)
            page = int(loc.get("page") or 1)
            box = [float(b) for b in loc.get("box") or []]
            key = (d.kind, page, tuple(box))
            anchor = f"doc{d.id}-{name}"
            anchors.setdefault(key, anchor)
            item = {
                "number": number,
                "name": name,
                "title": titles.get(name, name),
                "value": _show(value),
                "raw": str(loc.get("raw", "")),
                "confidence": loc.get("confidence"),
                "page": page,
                "flagged": key in flagged,
                "anchor": anchor,
            }
            fields.append(item)
            if len(box) == 4 and 1 <= page <= pages_total:
                try:
                    _img, width, height = _page_image(path, d.media_type, page, options)
                except (DocumentError, OSError):
                    continue
                if width > 0 and height > 0:
                    sizes[page] = (width, height)
                    x0, y0 = max(0.0, min(box[0], box[2])), max(0.0, min(box[1], box[3]))
                    placed = located.setdefault(page, [])
                    w = min(abs(box[2] - box[0]), width - x0)
                    h = min(abs(box[3] - box[1]), height - y0)
                    same = next((b for b in placed if (b.x, b.y, b.w, b.h) == (x0, y0, w, h)), None)
                    if same is not None:  # several fields read from one line share one outline
                        same.number += f"、{number}"
                        same.title += f"、{item['title']}"
                        same.value += f"；{item['value']}"
                        same.flagged = same.flagged or bool(item["flagged"])
                        continue
                    placed.append(
                        _Located(
                            number=str(number),
                            name=name,
                            title=str(item["title"]),
                            value=str(item["value"]),
                            raw=str(item["raw"]),
                            confidence=item["confidence"],
                            page=page,
                            x=x0,
                            y=y0,
                            w=w,
                            h=h,
                            flagged=bool(item["flagged"]),
                            anchor=anchor,
                        )
                    )
        out.append(
            {
                "id": d.id,
                "kind": d.kind,
                "title": _material_title(ruleset, d.kind),
                "name": d.ref.rsplit("/", 1)[-1],
                "media_type": d.media_type,
                "size": d.size,
                "method": {"ocr": "OCR 识别", "text": "PDF 文字层"}.get(str(doc_facts.get("method")), "—"),
                "pages": [
                    {
                        "number": p,
                        "url": f"/cases/{quote(row.id, safe='')}/documents/{d.id}/pages/{p}",
                        "boxes": located.get(p, []),
                        "size": sizes.get(p),
                    }
                    for p in range(1, pages_total + 1)
                ],
                "fields": fields,
                "problems": [p.get("message", "") for p in doc_facts.get("problems") or []],
                "error": (doc_facts.get("error") or {}).get("message") or problem,
            }
        )
    return out, anchors


def _records_view(facts: dict[str, Any]) -> list[dict[str, Any]]:
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
                "columns": [(c, COLUMNS.get(c, c)) for c in columns],
                "rows": [[_show(r.get(c)) for c in columns] for r in rows],
            }
        )
    return out


def _case_page(
    request: Request,
    services: container.Services,
    session: Session,
    *,
    user: User,
    case_id: str,
    error: str | None = None,
    problems: list[dict[str, str]] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    now = _now()
    try:
        row = _cases.get_case(session, user=user, case_id=case_id)
    except ServiceError as exc:
        return _error_page(request, exc)
    view = _cases.case_view(session, row=row, now=now).model_dump()
    rec = session.scalars(select(DecisionRow).where(DecisionRow.case_id == row.id)).first()
    facts = rec.facts if rec is not None else {}
    decision = view["decision"] or {}
    ruleset = _ruleset_by_sha(services, session, (rec.ruleset_sha256 if rec else None)) or _ruleset_of(
        services, session, row.item, row.received_at
    )
    conditions = decision.get("conditions") or []
    flagged = _flagged_boxes(conditions)
    documents, anchors = _documents_view(
        services, session, row=row, facts=facts, ruleset=ruleset, flagged=flagged
    )
    reasons = decision.get("reasons") or []
    messages: dict[str, list[str]] = {}
    for r in reasons:
        messages.setdefault(str(r.get("condition")), []).append(str(r.get("message", "")))
    cond_rows = []
    for c in conditions:
        cond_rows.append(
            {
                "id": c.get("id"),
                "title": c.get("title"),
                "status": c.get("status"),
                "on_fail": c.get("on_fail"),
                "values": [(k, _show(v)) for k, v in (c.get("values") or {}).items()],
                "sources": [
                    (k, _source_view(s, ruleset=ruleset, anchors=anchors))
                    for k, s in (c.get("sources") or {}).items()
                ],
                "basis": c.get("basis"),
                "messages": messages.get(str(c.get("id")), []),
                "note": c.get("note"),
                "missing": c.get("missing") or [],
            }
        )
    outputs = []
    for name, value in (decision.get("outputs") or {}).items():
        out = ruleset.outputs.get(name) if ruleset else None
        outputs.append((out.title if out else name, _output_text(out.labels if out else None, value)))
    tasks = []
    for t in session.scalars(select(TaskRow).where(TaskRow.case_id == row.id).order_by(TaskRow.id)):
        tv = _review.task_view(t, now=now).model_dump()
        tv["due"] = t.due_at
        tv["days_left"] = _days_left(t.due_at, now) if t.status != "done" else None
        tv["mine"] = t.status == "claimed" and t.claimed_by == user.id
        tv["choices"] = DECISION_CHOICES[t.kind]
        tv["can_claim"] = user.role in DECIDING_ROLES and (
            t.status == "open" or (t.status == "claimed" and t.claimed_by != user.id)
        )
        tasks.append(tv)
    applicant = row.payload.get("applicant", {}) if isinstance(row.payload, dict) else {}
    form_values = []
    for name, value in (row.payload.get("form", {}) if isinstance(row.payload, dict) else {}).items():
        spec = ruleset.fields.get(name) if ruleset else None
        shown = spec.choices.get(str(value), _show(value)) if spec and spec.choices else _show(value)
        form_values.append((spec.title if spec else name, shown))
    return _render(
        request,
        "case.html",
        {
            "case": view,
            "row": row,
            "item_name": ruleset.item.name if ruleset else row.item,
            "applicant": applicant,
            "form_values": form_values,
            "commitments": row.payload.get("commitments", []) if isinstance(row.payload, dict) else [],
            "decision": decision,
            "outputs": outputs,
            "reasons": reasons,
            "conditions": cond_rows,
            "materials": decision.get("materials") or [],
            "records": _records_view(facts),
            "documents": documents,
            "tasks": tasks,
            "results": view["results"],
            "error": error,
            "problems": problems or [],
            "form": form or {},
            "message": MESSAGES.get(request.query_params.get("msg", "")),
            "can_decide": user.role in DECIDING_ROLES,
        },
        status=status,
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(case_id: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    user, _ws = _staff(request, session)
    return _case_page(request, services, session, user=user, case_id=case_id)


@router.get("/cases/{case_id}/documents/{doc_id}/pages/{page}")
def document_page(
    case_id: str, doc_id: int, page: int, request: Request, services: ServicesDep, session: SessionDep
) -> Response:
    """A page of an uploaded document as an image, read from the content-addressed store (the
    client's file name never reaches the file system)."""
    user, _ws = _staff(request, session)
    try:
        row = _cases.get_case(session, user=user, case_id=case_id)
        doc = session.get(CaseDocument, doc_id)
        if doc is None or doc.case_id != row.id:
            raise NotFound("没有该材料")
        try:
            data, _w, _h = _page_image(
                str(services.blobs.path(doc.sha256)), doc.media_type, page, _options(services)
            )
        except (DocumentError, OSError) as exc:
            raise NotFound(f"材料第 {page} 页无法显示：{getattr(exc, 'message', '文件无法读取')}") from exc
    except ServiceError as exc:
        return _error_page(request, exc)
    return Response(
        data,
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


# -- task actions -------------------------------------------------------------------------------------------
def _task_action(
    request: Request,
    services: container.Services,
    session: Session,
    *,
    task_id: int,
    csrf: str,
    act: Callable[[User], Any],
    done: str,
    form: dict[str, str] | None = None,
) -> Response:
    user, ws = _staff(request, session, roles=DECIDING_ROLES)
    _check_csrf(ws, csrf)
    task = session.get(TaskRow, task_id)
    if task is None or (user.role == "approver" and task.department != user.department):
        return _error_page(request, NotFound(f"没有编号为 {task_id} 的任务"))
    case_id = task.case_id
    try:
        act(user)
    except ServiceError as exc:
        session.expire_all()
        return _case_page(
            request,
            services,
            session,
            user=user,
            case_id=case_id,
            error=exc.message,
            problems=exc.problems,
            form=form,
            status=exc.status,
        )
    return RedirectResponse(f"/cases/{quote(case_id, safe='')}?msg={done}", status_code=303)


@router.post("/tasks/{task_id}/claim")
def claim(
    task_id: int,
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    csrf: str = Form("", max_length=100),
) -> Response:
    return _task_action(
        request,
        services,
        session,
        task_id=task_id,
        csrf=csrf,
        act=lambda user: _review.claim_task(services, user=user, task_id=task_id, now=_now()),
        done="claimed",
    )


@router.post("/tasks/{task_id}/release")
def release(
    task_id: int,
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    csrf: str = Form("", max_length=100),
) -> Response:
    return _task_action(
        request,
        services,
        session,
        task_id=task_id,
        csrf=csrf,
        act=lambda user: _review.release_task(services, user=user, task_id=task_id, now=_now()),
        done="released",
    )


@router.post("/tasks/{task_id}/decide")
def decide(
    task_id: int,
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    csrf: str = Form("", max_length=100),
    outcome: str = Form("", max_length=20),
    comment: str = Form("", max_length=4000),
) -> Response:
    if not outcome:
        user, ws = _staff(request, session, roles=DECIDING_ROLES)
        _check_csrf(ws, csrf)
        task = session.get(TaskRow, task_id)
        if task is None or (user.role == "approver" and task.department != user.department):
            return _error_page(request, NotFound(f"没有编号为 {task_id} 的任务"))
        return _case_page(
            request,
            services,
            session,
            user=user,
            case_id=task.case_id,
            error="请选择处理结果",
            problems=[{"path": "outcome", "message": "未选择"}],
            form={"comment": comment},
            status=422,
        )
    return _task_action(
        request,
        services,
        session,
        task_id=task_id,
        csrf=csrf,
        act=lambda user: _review.decide_task(
            services, user=user, task_id=task_id, outcome=outcome, comment=comment, now=_now()
        ),
        done="decided",
        form={"comment": comment, "outcome": outcome},
    )


# -- result documents ---------------------------------------------------------------------------------------
@router.get("/results/{code}.pdf")
def result_pdf(code: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    user, _ws = _staff(request, session)
    try:
        row, pdf = _results.result_pdf(services, session, user=user, code=code)
    except ServiceError as exc:
        return _error_page(request, exc)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{row.code}.pdf"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# -- public verification ---------------------------------------------------------------------------
@router.get("/verify", response_class=HTMLResponse)
def verify_form(request: Request, session: SessionDep, code: str | None = None) -> Response:
    web_session(request, session)
    if code and code.strip():
        return RedirectResponse(f"/verify/{quote(code.strip()[:60], safe='')}", status_code=303)
    return _render(request, "verify.html", {"code": "", "result": None, "error": None, "nav": "verify"})


@router.get("/verify/{code}", response_class=HTMLResponse)
def verify(code: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    web_session(request, session)
    try:
        result = _results.verify_result(session, code=code)
    except ServiceError as exc:
        return _render(
            request,
            "verify.html",
            {"code": code, "result": None, "error": exc.message, "nav": "verify"},
            status=exc.status,
        )
    grants = result.get("grants") or {}
    ruleset = _ruleset_by_sha(services, session, (grants.get("ruleset") or {}).get("sha256"))
    outputs = []
    for k, o in (grants.get("outputs") or {}).items():
        if isinstance(o, dict):
            spec = ruleset.outputs.get(k) if ruleset else None
            outputs.append((o.get("title", k), _output_text(spec.labels if spec else None, o.get("value"))))
    return _render(
        request,
        "verify.html",
        {
            "code": code.strip().upper(),
            "result": result,
            "grants": grants,
            "applicant": mask_name(str(grants.get("applicant") or "")),
            "outputs": outputs,
            "error": None,
            "nav": "verify",
        },
    )
