"""Sign-in and sign-out of the approvers' pages."""

from __future__ import annotations

import hmac
import secrets
import time

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import presenters as p
from api.deps import SESSION_COOKIE, ServicesDep, SessionDep, new_session, session_key, web_session
from api.pages.common import LOGIN_COOKIE, check_csrf, render, safe_next
from service import access
from service.container import Services
from service.transactions import utcnow
from service.users import SignInThrottle, User, check_password, end_sessions, hash_password, user_by_id

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> Response:
    """Staff to their queue, applicants to their own cases, anyone else to the public service guide."""
    signed = web_session(request, session)
    if signed is None:
        return RedirectResponse("/guide", status_code=303)
    return RedirectResponse("/queue" if access.is_staff(signed[0]) else "/my", status_code=303)


def _login_page(
    request: Request, *, next_url: str, error: str | None = None, status: int = 200, user_id: str = ""
) -> HTMLResponse:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {
            "next": next_url,
            "error": error,
            "login_csrf": token,
            "user_id": user_id,
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


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, session: SessionDep, next: str | None = None) -> Response:
    if web_session(request, session) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_url=safe_next(next))


_DUMMY_HASH = hash_password("miaopi-timing-equaliser")


def throttle_of(request: Request, services: Services) -> SignInThrottle:
    throttle: SignInThrottle | None = getattr(request.app.state, "sign_in_throttle", None)
    if throttle is None:
        settings = services.settings
        throttle = SignInThrottle(failures=settings.sign_in_failures, pause_s=settings.sign_in_pause_s)
        request.app.state.sign_in_throttle = throttle
    return throttle


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
    next_url = safe_next(next)
    cookie = request.cookies.get(LOGIN_COOKIE) or ""
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf.encode()):
        return _login_page(
            request,
            next_url=next_url,
            error="登录页面已过期，请重新输入后登录。",
            status=403,
            user_id=user_id,
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
    user = user_by_id(session, account) if account else None
    ok = check_password(password, user.password_hash if user else _DUMMY_HASH)
    if user is None or not ok:
        throttle.failed(account=account, address=address, now=clock)
        return _login_page(
            request, next_url=next_url, error="用户名或密码错误，请重新输入。", status=401, user_id=user_id
        )
    throttle.succeeded(account=account)
    if not access.is_staff(user):
        return _login_page(
            request,
            next_url=next_url,
            error="本系统供审批工作人员使用。申请人请从“申请人登录”进入（/login/applicant）。",
            status=403,
            user_id=user_id,
        )
    return signed_in(request, services, user, next_url)


def signed_in(request: Request, services: Services, user: User, next_url: str) -> Response:
    """The redirect after a sign-in, with the session cookie (staff and applicants alike)."""
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
def logout(
    request: Request, services: ServicesDep, session: SessionDep, csrf: str = Form("", max_length=100)
) -> Response:
    signed = web_session(request, session)
    if signed is not None:
        check_csrf(signed[1], csrf)
        # server-side: the cookie stops working everywhere, not only in this browser
        end_sessions(services, user_id=signed[0].id, now=utcnow())
    applicant = signed is not None and signed[0].role == "applicant"
    where = "/login/applicant" if applicant else "/login"
    response = RedirectResponse(f"{where}?msg=signed_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
