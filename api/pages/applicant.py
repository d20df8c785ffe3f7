"""The applicant's pages (申请人): sign-in through the identity provider, their own cases, applying for an
item with the form prefilled from the shared data, following a case, correcting a returned one.

Applicants sign in here, never on the staff sign-in; the staff pages refuse them, and these pages refuse
staff. Every case, progress page and result is the signed-in applicant's own: another's is not found.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from api import presenters as p
from api.deps import ServicesDep, SessionDep, web_session
from api.pages.common import LOGIN_COOKIE, applicant, check_csrf, error_page, now, render
from api.pages.login import signed_in, throttle_of
from engine.case import CHINA_TZ
from engine.errors import CaseError
from engine.guide import guide_of
from engine.model import Ruleset
from service import applicant as door
from service import cases, ratings, results
from service.container import Services
from service.disclosure import mask_others
from service.errors import ServiceError
from service.guide import catalogue
from service.identity import Assertion, IdentityProvider, LocalIdentity, applicant_for
from service.rulesets import active_version
from service.users import User

router = APIRouter(include_in_schema=False)
STATE_COOKIE = "miaopi_oidc_state"


def identity(request: Request) -> IdentityProvider:
    provider: IdentityProvider | None = getattr(request.app.state, "identity", None)
    return provider or LocalIdentity()


def _safe_next(value: str | None) -> str:
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/my"
    return value


# -- sign-in ---------------------------------------------------------------------------------------------
def _login_page(
    request: Request, *, next_url: str, error: str | None = None, status: int = 200, user_id: str = ""
) -> HTMLResponse:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "applicant_login.html",
        {
            "public": True,
            "next": next_url,
            "error": error,
            "login_csrf": token,
            "user_id": user_id,
            "provider": identity(request).name,
            "message": p.MESSAGES.get(request.query_params.get("msg", "")),
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


@router.get("/login/applicant", response_class=HTMLResponse)
def applicant_login_form(request: Request, session: SessionDep, next: str | None = None) -> Response:
    signed = web_session(request, session)
    if signed is not None and signed[0].role == "applicant":
        return RedirectResponse(_safe_next(next), status_code=303)
    state = secrets.token_urlsafe(24)
    url = identity(request).start(state=state, return_to=_safe_next(next))
    if url is not None:  # an external identity service: off to its sign-in, back to the callback
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(
            STATE_COOKIE,
            f"{state}|{_safe_next(next)}",
            max_age=600,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/login",
        )
        return response
    return _login_page(request, next_url=_safe_next(next))


def _enter(request: Request, services: Services, assertion: Assertion | None, next_url: str) -> Response:
    if assertion is None:
        return _login_page(request, next_url=next_url, error="账号或密码错误，请重新输入。", status=401)
    try:
        user = applicant_for(services, assertion)
    except ServiceError as exc:
        return _login_page(request, next_url=next_url, error=exc.message, status=exc.status)
    return signed_in(request, services, user, next_url)


@router.post("/login/applicant", response_class=HTMLResponse)
def applicant_login(
    request: Request,
    services: ServicesDep,
    user_id: str = Form("", max_length=64),
    password: str = Form("", max_length=200),
    csrf: str = Form("", max_length=100),
    next: str = Form("/my", max_length=500),
) -> Response:
    next_url = _safe_next(next)
    cookie = request.cookies.get(LOGIN_COOKIE) or ""
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf.encode()):
        return _login_page(
            request, next_url=next_url, error="登录页面已过期，请重新登录。", status=403, user_id=user_id
        )
    throttle = throttle_of(request, services)
    account = user_id.strip()
    address = request.client.host if request.client else ""
    clock = time.monotonic()
    wait = throttle.retry_after(account=account, address=address, now=clock)
    if wait is not None:
        refused = _login_page(
            request,
            next_url=next_url,
            error=f"密码错误次数过多，请 {max(1, round(wait / 60))} 分钟后再试。",
            status=429,
            user_id=user_id,
        )
        refused.headers["Retry-After"] = str(wait)
        return refused
    assertion = identity(request).finish(services, {"user_id": account, "password": password})
    if assertion is None:
        throttle.failed(account=account, address=address, now=clock)
        return _login_page(
            request, next_url=next_url, error="账号或密码错误，请重新输入。", status=401, user_id=user_id
        )
    throttle.succeeded(account=account)
    return _enter(request, services, assertion, next_url)


@router.get("/login/applicant/callback", response_class=HTMLResponse)
def applicant_login_callback(request: Request, services: ServicesDep) -> Response:
    """Where an external identity service sends the browser back (OpenID Connect: `code` and `state`)."""
    saved = request.cookies.get(STATE_COOKIE) or ""
    state, _, next_url = saved.partition("|")
    given = request.query_params.get("state", "")
    if not state or not hmac.compare_digest(state.encode(), given.encode()):
        return _login_page(request, next_url="/my", error="登录已过期，请重新登录。", status=403)
    assertion = identity(request).finish(services, dict(request.query_params))
    response = _enter(request, services, assertion, _safe_next(next_url))
    response.delete_cookie(STATE_COOKIE, path="/login")
    return response


# -- my cases --------------------------------------------------------------------------------------------
@router.get("/my", response_class=HTMLResponse)
def my_cases(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    user, _ws = applicant(request, session)
    mine = cases.list_cases(session, user=user, status=None, limit=200)
    entries = catalogue(services, session, now=now())
    items = [e for e in entries if e.applicant_kind == user.subject_kind]
    names = {e.item: e.name for e in entries}
    return render(
        request,
        "my_cases.html",
        {"nav": "my", "cases": mine, "items": items, "names": names},
    )


# -- applying --------------------------------------------------------------------------------------------
def _ruleset_now(services: Services, session: Session, item: str) -> Ruleset:
    return services.rulesets.program_for(active_version(session, item=item, at=now())).ruleset


def _form_context(
    request: Request,
    services: Services,
    *,
    user: User,
    ruleset: Ruleset,
    values: dict[str, Any],
    kept: dict[str, door.Prefilled],
    name: str,
    name_source: str | None,
    commitments: list[str],
    problems: list[dict[str, str]],
    action: str,
    case_id: str | None,
) -> dict[str, Any]:
    guide = None
    with services.sessions() as session:
        guide = guide_of(
            services.rulesets.program_for(active_version(session, item=ruleset.item.id, at=now()))
        )
    by_path: dict[str, list[str]] = {}
    for pr in problems:
        by_path.setdefault(pr.get("path", ""), []).append(pr["message"])
    rows: dict[str, int] = {}
    for fname, spec in ruleset.fields.items():
        if spec.type == "list":
            have = values.get(fname) if isinstance(values.get(fname), list) else []
            rows[fname] = max(door.LIST_ROWS, len(have or []) + 1)
    return {
        "nav": "my",
        "ruleset": ruleset,
        "guide": guide,
        "values": values,
        "kept": kept,
        "name": name,
        "name_source": name_source,
        "commitments": commitments,
        "problems": problems,
        "by_path": by_path,
        "rows": rows,
        "action": action,
        "case_id": case_id,
        "subject_kind": user.subject_kind,
        "idempotency": secrets.token_urlsafe(16),
    }


@router.get("/my/apply/{item}", response_class=HTMLResponse)
def apply_form(item: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    user, _ws = applicant(request, session)
    try:
        ruleset = _ruleset_now(services, session, item)
        door.check_item_kind(user, ruleset)
        filled = door.prefill(services, user=user, ruleset=ruleset)
    except ServiceError as exc:
        return error_page(request, exc)
    except CaseError:
        return error_page(request, _no_item(item))
    values = {k: (v.value if not v.masked else "") for k, v in filled.fields.items()}
    return render(
        request,
        "apply.html",
        _form_context(
            request,
            services,
            user=user,
            ruleset=ruleset,
            values=values,
            kept=filled.fields,
            name=filled.name or user.display_name,
            name_source=filled.name_source,
            commitments=[],
            problems=[],
            action=f"/my/apply/{item}",
            case_id=None,
        ),
    )


def _no_item(item: str) -> ServiceError:
    from service.errors import NotFound

    return NotFound(f"没有事项 {item}")


async def _read_form(request: Request) -> tuple[dict[str, str], list[str], list[tuple[str, UploadFile]]]:
    form = await request.form(max_files=50, max_fields=2000)
    inputs: dict[str, str] = {}
    commitments: list[str] = []
    files: list[tuple[str, UploadFile]] = []
    for key, value in form.multi_items():
        if isinstance(value, str):
            if key == "commitment":
                commitments.append(value)
            else:
                inputs[key] = value
        elif key.startswith("file.") and value.filename:
            files.append((key.removeprefix("file."), value))
    return inputs, commitments, files


def _uploads(files: list[tuple[str, UploadFile]]) -> list[cases.Upload]:
    out = []
    for material_id, up in files:
        up.file.seek(0, 2)
        size = up.file.tell()
        up.file.seek(0)
        out.append(
            cases.Upload(name=door.upload_name(material_id, up.filename or ""), file=up.file, size=size)
        )
    return out


def _documents(ruleset: Ruleset, uploads: list[cases.Upload]) -> list[dict[str, str]]:
    kinds = {m.id: m.document_kind for m in ruleset.materials if m.document_kind}
    return [
        {"kind": kinds[u.name.split(".", 1)[0]], "path": u.name}
        for u in uploads
        if u.name.split(".", 1)[0] in kinds
    ]


def _submit(
    services: Services,
    user: User,
    item: str,
    inputs: dict[str, str],
    commitments: list[str],
    files: list[tuple[str, UploadFile]],
) -> tuple[str | None, dict[str, Any]]:
    """Submit through the one submission of service/cases.py: (case id, {}) or (None, the form again)."""
    with services.sessions() as session:
        ruleset = _ruleset_now(services, session, item)
    door.check_item_kind(user, ruleset)
    filled = door.prefill(services, user=user, ruleset=ruleset)
    kept = {k: v.value for k, v in filled.fields.items()}
    form = door.form_values(ruleset, inputs, kept=kept)
    uploads = [u for u in _uploads(files) if u.name.split(".", 1)[0] in {m.id for m in ruleset.materials}]
    data = {
        "item": item,
        "submitted_at": now().astimezone(CHINA_TZ).isoformat(),
        "applicant": door.applicant_block(user, name=filled.name or user.display_name),
        "form": form,
        "documents": _documents(ruleset, uploads),
        "commitments": commitments,
    }
    try:
        row, _created = cases.submit_case(
            services,
            user=user,
            data=data,
            uploads=uploads,
            idempotency_key=inputs.get("idempotency") or None,
            now=now(),
        )
    except CaseError as exc:
        problems = door.check_case_error(exc)
    except ServiceError as exc:
        problems = exc.problems or [{"path": "", "message": exc.message}]
    else:
        return row.id, {}
    return None, {
        "ruleset": ruleset,
        # what the applicant typed, never a kept value (another person's number stays masked)
        "values": dict(inputs),
        "list_values": form,
        "kept": filled.fields,
        "name": filled.name or user.display_name,
        "name_source": filled.name_source,
        "commitments": commitments,
        "problems": problems,
    }


@router.post("/my/apply/{item}", response_class=HTMLResponse)
async def apply(item: str, request: Request, services: ServicesDep) -> Response:
    inputs, commitments, files = await _read_form(request)
    with services.sessions() as session:
        user, ws = applicant(request, session)
    check_csrf(ws, inputs.get("csrf", ""))
    try:
        case_id, again = await run_in_threadpool(_submit, services, user, item, inputs, commitments, files)
    except ServiceError as exc:
        return error_page(request, exc)
    except CaseError:
        return error_page(request, _no_item(item))
    if case_id is not None:
        return RedirectResponse(f"/my/cases/{case_id}", status_code=303)
    values = dict(again["values"])
    values.update({k: v for k, v in again["list_values"].items() if isinstance(v, list)})
    return render(
        request,
        "apply.html",
        _form_context(
            request,
            services,
            user=user,
            ruleset=again["ruleset"],
            values=values,
            kept=again["kept"],
            name=again["name"],
            name_source=again["name_source"],
            commitments=again["commitments"],
            problems=again["problems"],
            action=f"/my/apply/{item}",
            case_id=None,
        ),
        status=422,
    )


# -- following a case ------------------------------------------------------------------------------------
def _progress_page(
    request: Request,
    services: Services,
    session: Session,
    *,
    user: User,
    case_id: str,
    rating_error: ServiceError | None = None,
    rating_form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    try:
        prog = door.progress(services, session, user=user, case_id=case_id, now=now())
        rating = ratings.rating_state(session, user=user, case_id=case_id)
    except ServiceError as exc:
        return error_page(request, exc)
    return render(
        request,
        "progress.html",
        {
            "nav": "my",
            "prog": prog,
            "row": prog.row,
            "item": prog.ruleset.item,
            "decision": prog.decision,
            "refresh": prog.pending,
            "outcome_label": door.outcome_label(prog.row),
            "rating": rating,
            "levels": [(code, lab) for code, (_score, lab) in ratings.LEVELS.items()],
            "max_comment": ratings.MAX_COMMENT,
            "rating_error": rating_error,
            "rating_form": rating_form or {},
            "rated_now": request.query_params.get("msg") == "rated",
        },
        status=status,
    )


@router.get("/my/cases/{case_id}", response_class=HTMLResponse)
def progress(case_id: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    user, _ws = applicant(request, session)
    return _progress_page(request, services, session, user=user, case_id=case_id)


@router.post("/my/cases/{case_id}/rating", response_class=HTMLResponse)
def rate(
    case_id: str,
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    csrf: str = Form("", max_length=100),
    level: str = Form("", max_length=40),
    comment: str = Form("", max_length=4000),
) -> Response:
    """好差评 from the progress page: the same use case as POST /api/v1/cases/{id}/rating."""
    user, ws = applicant(request, session)
    check_csrf(ws, csrf)
    try:
        ratings.rate_case(services, user=user, case_id=case_id, level=level, comment=comment, now=now())
    except ServiceError as exc:
        if exc.status in (403, 404):
            return error_page(request, exc)
        session.expire_all()
        return _progress_page(
            request,
            services,
            session,
            user=user,
            case_id=case_id,
            rating_error=exc,
            rating_form={"level": level, "comment": comment},
            status=exc.status,
        )
    return RedirectResponse(f"/my/cases/{case_id}?{urlencode({'msg': 'rated'})}", status_code=303)


@router.get("/my/results/{code}.pdf")
def my_result(code: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    user, _ws = applicant(request, session)
    try:
        row, pdf = results.result_pdf(services, session, user=user, code=code)
    except ServiceError as exc:
        return error_page(request, exc)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{row.code}.pdf"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# -- correcting a returned case (补正) -------------------------------------------------------------------
def _previous(
    services: Services, user: User, case_id: str
) -> tuple[Ruleset, dict[str, Any], list[str], door.Progress]:
    with services.sessions() as session:
        prog = door.progress(services, session, user=user, case_id=case_id, now=now())
        ruleset = _ruleset_now(services, session, prog.row.item)
    payload = prog.row.payload
    form = payload.get("form") if isinstance(payload.get("form"), dict) else {}
    commitments = [c for c in payload.get("commitments") or [] if isinstance(c, str)]
    return ruleset, dict(form or {}), commitments, prog


def _kept_previous(ruleset: Ruleset, form: dict[str, Any], user: User) -> dict[str, door.Prefilled]:
    """The case's earlier values, kept on the server; another person's ID number is shown masked."""
    own = door.own_ids(user)
    out = {}
    for k, v in form.items():
        spec = ruleset.fields.get(k)
        if spec is None or v is None or isinstance(v, list):
            continue
        text = str(v)
        masked = mask_others(text, own=own) != text
        out[k] = door.Prefilled(value=v, shown=mask_others(text, own=own), source="原申请", masked=masked)
    return out


@router.get("/my/cases/{case_id}/correct", response_class=HTMLResponse)
def correct_form(case_id: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    user, _ws = applicant(request, session)
    try:
        ruleset, form, commitments, prog = _previous(services, user, case_id)
    except ServiceError as exc:
        return error_page(request, exc)
    if not prog.correctable:
        return RedirectResponse(f"/my/cases/{case_id}", status_code=303)
    kept = _kept_previous(ruleset, form, user)
    values = {k: ("" if k in kept and kept[k].masked else v) for k, v in form.items()}
    ctx = _form_context(
        request,
        services,
        user=user,
        ruleset=ruleset,
        values=values,
        kept=kept,
        name=str((prog.row.payload.get("applicant") or {}).get("name", "")),
        name_source=None,
        commitments=commitments,
        problems=[],
        action=f"/my/cases/{case_id}/correct",
        case_id=case_id,
    )
    ctx["reasons"] = prog.decision.reasons if prog.decision else []
    ctx["missing"] = prog.decision.missing_materials if prog.decision else []
    return render(request, "apply.html", ctx)


def _resubmit(
    services: Services,
    user: User,
    case_id: str,
    inputs: dict[str, str],
    commitments: list[str],
    files: list[tuple[str, UploadFile]],
) -> dict[str, Any] | None:
    ruleset, previous, _c, prog = _previous(services, user, case_id)
    kept = _kept_previous(ruleset, previous, user)
    form = door.form_values(
        ruleset,
        inputs,
        kept={k: v.value for k, v in kept.items()}
        | {k: v for k, v in previous.items() if isinstance(v, list)},
    )
    uploads = [u for u in _uploads(files) if u.name.split(".", 1)[0] in {m.id for m in ruleset.materials}]
    try:
        door.resubmit_case(
            services,
            user=user,
            case_id=case_id,
            form=form,
            commitments=commitments,
            uploads=uploads,
            now=now(),
        )
    except CaseError as exc:
        problems = door.check_case_error(exc)
    except ServiceError as exc:
        if exc.status in (403, 404, 409):
            raise
        problems = exc.problems or [{"path": "", "message": exc.message}]
    else:
        return None
    values: dict[str, Any] = dict(inputs)
    values.update({k: v for k, v in form.items() if isinstance(v, list)})
    return {
        "ruleset": ruleset,
        "values": values,
        "kept": kept,
        "name": str((prog.row.payload.get("applicant") or {}).get("name", "")),
        "commitments": commitments,
        "problems": problems,
        "prog": prog,
    }


@router.post("/my/cases/{case_id}/correct", response_class=HTMLResponse)
async def correct(case_id: str, request: Request, services: ServicesDep) -> Response:
    inputs, commitments, files = await _read_form(request)
    with services.sessions() as session:
        user, ws = applicant(request, session)
    check_csrf(ws, inputs.get("csrf", ""))
    try:
        again = await run_in_threadpool(_resubmit, services, user, case_id, inputs, commitments, files)
    except ServiceError as exc:
        return error_page(request, exc)
    if again is None:
        return RedirectResponse(f"/my/cases/{case_id}?{urlencode({'msg': 'resubmitted'})}", status_code=303)
    ctx = _form_context(
        request,
        services,
        user=user,
        ruleset=again["ruleset"],
        values=again["values"],
        kept=again["kept"],
        name=again["name"],
        name_source=None,
        commitments=again["commitments"],
        problems=again["problems"],
        action=f"/my/cases/{case_id}/correct",
        case_id=case_id,
    )
    decision = again["prog"].decision
    ctx["reasons"] = decision.reasons if decision else []
    ctx["missing"] = decision.missing_materials if decision else []
    return render(request, "apply.html", ctx, status=422)
