"""Errors → RFC 9457 problem+json, in one place. Every typed error keeps its stable code, and every
operation declares in the OpenAPI schema the error statuses it can answer (`responses`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles

from api.schemas import Problem, ref
from engine.errors import ApprovalError, CaseError, EngineFault, RulesetError, UnknownItemError
from service.errors import ServiceError

log = logging.getLogger("miaopi.api")
MEDIA = "application/problem+json"

_APPROVAL_STATUS: list[tuple[type[ApprovalError], int, str]] = [
    (UnknownItemError, 422, "未知事项"),
    (CaseError, 422, "案件内容有误"),
    (RulesetError, 422, "规则集有误"),
    (EngineFault, 500, "规则引擎故障"),
]


STATUS_DESCRIPTIONS: dict[int, str] = {
    400: "请求正文无法解析（不是合法的 JSON 或 multipart 正文，或嵌套层数过多）",
    401: "未登录或凭证无效",
    403: "无权操作（角色不允许；以登录会话修改数据时还须提供 X-CSRF-Token）",
    404: "未找到（无权查看的也答未找到）",
    409: "状态冲突",
    413: "请求正文超过大小上限",
    415: "材料文件类型不受支持",
    422: "请求内容有误（逐项列出问题及其位置）",
    503: "服务暂不可用",
}
_STRING = {"type": "string"}


def responses(*statuses: int, described: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses of the error statuses an operation can answer, each a Problem under
    `application/problem+json` (`described` gives an operation's own description of a status)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "description": (described or {}).get(status, STATUS_DESCRIPTIONS[status]),
            "content": {MEDIA: {"schema": ref(Problem)}},
        }
        if status == 401:
            entry["headers"] = {
                "WWW-Authenticate": {"description": "Bearer", "required": True, "schema": _STRING}
            }
        if status == 503:
            seconds = {"type": "integer", "minimum": 0}
            entry["headers"] = {"Retry-After": {"description": "建议多少秒后重试", "schema": seconds}}
        out[status] = entry
    return out


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(app: Any, scope: Mapping[str, Any]) -> list[str]:
    """The methods some route of the application answers at the request's path (for `Allow`)."""
    # routing into a mount moved root_path; the probes start from the application's again
    top = {**scope, "root_path": scope.get("app_root_path", scope.get("root_path", ""))}
    allowed: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, Mount):  # a mount takes every method; static files answer two
            if isinstance(route.app, StaticFiles) and route.matches(top)[0] is not Match.NONE:
                allowed |= {"GET", "HEAD"}
            continue
        allowed |= {m for m in _METHODS if route.matches({**top, "method": m})[0] is Match.FULL}
    return [m for m in _METHODS if m in allowed]


def problem(
    status: int,
    *,
    title: str,
    detail: str,
    code: str,
    instance: str | None = None,
    retry_after: int | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://miaopi.example/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v not in (None, [], {})})
    sent = dict(headers or {})
    if status == 401:
        sent["WWW-Authenticate"] = "Bearer"
    if retry_after is not None:
        sent["Retry-After"] = str(retry_after)
    return JSONResponse(body, status_code=status, media_type=MEDIA, headers=sent or None)


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> JSONResponse:
        return problem(
            exc.status,
            title=exc.title,
            detail=exc.message,
            code=exc.code,
            instance=request.url.path,
            retry_after=getattr(exc, "retry_after_s", None),
            problems=exc.problems,
            **exc.extra,
        )

    @app.exception_handler(ApprovalError)
    async def _approval(request: Request, exc: ApprovalError) -> JSONResponse:
        status, title = 400, "请求无法处理"
        for cls, st, ti in _APPROVAL_STATUS:
            if isinstance(exc, cls):
                status, title = st, ti
                break
        if status >= 500:
            log.error("engine fault on %s: %s", request.url.path, exc.code)
        problems = getattr(exc, "problems", None) or (
            [{"path": exc.path or "", "message": exc.message}] if exc.path else []
        )
        return problem(
            status,
            title=title,
            detail=exc.message,
            code=exc.code,
            instance=request.url.path,
            problems=problems,
            suggestion=exc.suggestion,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "path": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
                "message": err.get("msg", ""),
            }
            for err in exc.errors()
        ]
        return problem(
            422,
            title="请求内容有误",
            detail="请求参数或正文不符合接口定义",
            code="invalid_request",
            instance=request.url.path,
            problems=problems,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "未找到", 405: "不支持的请求方法", 401: "未登录或凭证无效", 403: "无权操作"}
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated", 403: "forbidden"}.get(
            exc.status_code, "http_error"
        )
        detail = str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # the framework's answer when decoding the body failed (e.g. JSON nested too deep)
            code, detail = "unreadable_body", "请求正文无法解析：不是合法的 JSON，或嵌套层数过多"
        if exc.status_code == 404 and detail == "Not Found":  # no route at the path
            detail = "没有这个地址"
        if exc.status_code == 405:
            # RFC 9110: a 405 names the methods the resource answers, those of every route at the path
            # (the framework names only the first route's)
            allowed = allowed_methods(request.app, request.scope)
            headers["Allow"] = ", ".join(allowed)
            detail = f"该地址不支持 {request.method} 方法，支持：{'、'.join(allowed)}"
        return problem(
            exc.status_code,
            title=titles.get(exc.status_code, "请求无法处理"),
            detail=detail,
            code=code,
            instance=request.url.path,
            headers=headers,
        )

    @app.exception_handler(RecursionError)
    async def _too_deep(request: Request, exc: RecursionError) -> JSONResponse:
        # JSON nested so deep that decoding it (before any route code) exhausts the stack
        return problem(
            422,
            title="请求内容有误",
            detail="请求正文的 JSON 嵌套层数过多",
            code="invalid_request",
            instance=request.url.path,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return problem(
            500,
            title="系统内部错误",
            detail="系统内部错误，已记录，请稍后重试",
            code="internal_error",
            instance=request.url.path,
        )
