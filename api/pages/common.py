"""What every page shares: the templates, rendering with the security headers, the signed-in staff
member (a redirect to sign-in, or a page for anyone else), the CSRF check and the error pages.

Server-rendered Jinja2, in Chinese; every form works without JavaScript. Sign-in sets the signed
session cookie of api/deps.py; every POST form carries the session's CSRF token in a hidden field
(the sign-in form a double-submit cookie). Approvers see their own department only; a case of another
department is reported as not found, as in the JSON API.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from api import presenters as p
from api.deps import WebSession, csrf_ok, web_session
from service import access
from service.errors import ServiceError
from service.transactions import utcnow
from service.users import User

HERE = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=HERE / "templates")

LOGIN_COOKIE = "miaopi_login"


# -- errors that the pages turn into a redirect or a page --------------------------------------------
class LoginRequired(Exception):
    def __init__(self, next_url: str, *, login: str = "/login") -> None:
        self.next_url = next_url
        self.login = login


class StaffOnly(Exception):
    pass


class ApplicantOnly(Exception):
    pass


class BadCsrf(Exception):
    pass


def install(app: FastAPI) -> None:
    """Add the static files and the pages' error pages to the application."""
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"{exc.login}?next={quote(exc.next_url, safe='/')}", status_code=303)

    @app.exception_handler(StaffOnly)
    async def _staff(request: Request, exc: StaffOnly) -> Response:
        return render(
            request,
            "message.html",
            {
                "title": "本页面供审批工作人员使用",
                "message": "本页面供审批工作人员使用。申请人请进入“我的办件”查询办理进度。",
                "back": ("/my", "进入我的办件"),
            },
            status=403,
        )

    @app.exception_handler(ApplicantOnly)
    async def _applicant(request: Request, exc: ApplicantOnly) -> Response:
        return render(
            request,
            "message.html",
            {
                "title": "本页面供申请人使用",
                "message": "本页面供已绑定申请主体的申请人使用；工作人员请使用审批工作台。",
                "back": ("/queue", "进入审批工作台"),
            },
            status=403,
        )

    @app.exception_handler(BadCsrf)
    async def _csrf(request: Request, exc: BadCsrf) -> Response:
        return render(
            request,
            "message.html",
            {"title": "页面已过期", "message": "表单已过期或来源无法确认，请返回页面刷新后重试。"},
            status=403,
        )


templates.env.filters["china"] = p.china
templates.env.filters["show"] = p.show
templates.env.globals.update(
    OUTCOMES=p.OUTCOMES,
    PERSON_OUTCOMES=p.PERSON_OUTCOMES,
    case_outcome=p.case_outcome,
    CASE_STATUSES=p.CASE_STATUSES,
    TASK_KINDS=p.TASK_KINDS,
    TASK_STATUSES=p.TASK_STATUSES,
    CARDS=p.CARDS,
    CARD_HINTS=p.CARD_HINTS,
    CONDITION_STATUSES=p.CONDITION_STATUSES,
    MATERIAL_STATUSES=p.MATERIAL_STATUSES,
    RESULT_KINDS=p.RESULT_KINDS,
)


def render(request: Request, name: str, context: dict[str, Any], *, status: int = 200) -> HTMLResponse:
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


def error_page(request: Request, exc: ServiceError) -> HTMLResponse:
    return render(
        request,
        "message.html",
        {"title": exc.title, "message": exc.message, "problems": exc.problems},
        status=exc.status,
    )


def staff(request: Request, session: Session, *, deciding: bool = False) -> tuple[User, WebSession]:
    """The signed-in staff member (`deciding`: one who may claim and decide tasks)."""
    signed = web_session(request, session)
    if signed is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path)
    user = signed[0]
    if not (access.may_decide(user) if deciding else access.is_staff(user)):
        raise StaffOnly()
    return signed


def applicant(request: Request, session: Session) -> tuple[User, WebSession]:
    """The signed-in applicant (bound to a subject); anyone else is refused, staff included."""
    signed = web_session(request, session)
    if signed is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path, login="/login/applicant")
    user = signed[0]
    if user.role != "applicant" or user.subject_kind is None:
        raise ApplicantOnly()
    return signed


def check_csrf(ws: WebSession, token: str) -> None:
    if not csrf_ok(ws, token):
        raise BadCsrf()


def safe_next(value: str | None) -> str:
    """Only a path on this site: no scheme, no host, no protocol-relative `//`."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/queue"
    return value


def now() -> datetime:
    return utcnow()
