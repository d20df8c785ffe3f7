"""Typed errors of the service layer. Each carries a stable `code` and the HTTP status it maps to; the
API turns them (and the decision core's ApprovalError) into problem+json in one place (api/problems.py)."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    code = "service_error"
    status = 400
    title = "请求无法处理"

    def __init__(self, message: str, *, problems: list[dict[str, str]] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []
        self.extra = extra


class NotFound(ServiceError):
    code = "not_found"
    status = 404
    title = "未找到"


class Forbidden(ServiceError):
    code = "forbidden"
    status = 403
    title = "无权操作"


class Unauthenticated(ServiceError):
    code = "unauthenticated"
    status = 401
    title = "未登录或凭证无效"


class Conflict(ServiceError):
    code = "conflict"
    status = 409
    title = "状态冲突"


class InvalidRequest(ServiceError):
    code = "invalid_request"
    status = 422
    title = "请求内容有误"


class UnsupportedDocument(ServiceError):
    code = "unsupported_document"
    status = 415
    title = "材料文件类型不受支持"


class TooLarge(ServiceError):
    code = "too_large"
    status = 413
    title = "上传内容过大"


class TooManyValues(ServiceError):
    """JSON text with more values than the limit (service/jsontext.py), refused before it is decoded."""

    code = "too_many_values"
    status = 413
    title = "请求内容过多"
