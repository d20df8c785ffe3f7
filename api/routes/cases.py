"""The JSON API's cases: submission (JSON, or multipart with the files), the pre-check, the case list
and one case's state and decision."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Form, Header, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import WithJsonSchema
from starlette.convertors import StringConvertor, register_url_convertor

from api import problems
from api.deps import ServicesDep, SignedInDep
from api.schemas import CaseAccepted, CaseSummary, PreCheckAnswer, ref
from engine.case import MAX_DEPTH, Case
from service import cases, jsontext, labels
from service.container import Services
from service.engine_pool import EnginePool
from service.errors import InvalidRequest, TooLarge, TooManyValues
from service.transactions import utcnow
from service.users import User


class CaseIdConvertor(StringConvertor):
    """A case id in a path: never one of the reserved ids, so that /api/v1/cases/multipart is the
    multipart submission alone (a GET there is a 405, as the schema says, not a case look-up)."""

    regex = "".join(f"(?!{re.escape(r)}$)" for r in sorted(cases.RESERVED_CASE_IDS)) + StringConvertor.regex


register_url_convertor("case_id", CaseIdConvertor())

router = APIRouter(prefix="/api/v1")
_LOCATION = {"Location": {"description": "案件地址", "required": True, "schema": {"type": "string"}}}
_CONFLICT = {
    409: "案件编号已用于另一案件，或同一幂等键已用于内容不同的案件（不说明该案件属于谁、处于何种状态）"
}
SUBMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": CaseAccepted, "description": "重复提交，返回已受理的案件", "headers": _LOCATION},
    201: {"model": CaseAccepted, "description": "已受理并已作出决定", "headers": _LOCATION},
    202: {"description": "已受理，等待引擎作出决定", "headers": _LOCATION},
}
# A case body is read as plain JSON and validated by the use case against the item's ruleset, so that
# every problem, of the contract and of the item's declared fields, is reported at once (and the depth
# limit is checked before any validation walks it); its schema is the case model's.
CaseBody = Annotated[
    dict[str, Any],
    Body(),
    WithJsonSchema({**ref(Case), "description": "案件 JSON；form 须符合该事项规则集声明的字段"}),
]
PreCheckBody = Annotated[
    dict[str, Any],
    Body(),
    WithJsonSchema({**ref(Case), "description": "案件 JSON；预审不读材料文件，documents 须为空"}),
]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=200, description="重试时返回同一案件，不会重复受理"),
]
Wait = Annotated[float, Query(ge=0, le=30, description="最多等待引擎作出决定的秒数（0 为立即返回）")]


def _now() -> datetime:
    return utcnow()


def _accepted(row: Any, created: bool) -> CaseAccepted:
    return CaseAccepted(
        case_id=row.id,
        status=row.status,
        status_label=labels.label(labels.CASE_STATUS_LABELS, row.status) or row.status,
        outcome=row.outcome,
        outcome_label=labels.label(labels.OUTCOME_LABELS, row.outcome),
        progress_label=labels.progress_label(row.status, row.outcome),
        created=created,
        links={"self": f"/api/v1/cases/{row.id}"},
    )


async def _submit(
    request: Request,
    services: Services,
    user: User,
    data: Any,
    uploads: list[cases.Upload],
    key: str | None,
    wait: float,
    response: Response,
) -> CaseAccepted:
    row, created = await run_in_threadpool(
        cases.submit_case, services, user=user, data=data, uploads=uploads, idempotency_key=key, now=_now()
    )
    supervisor = getattr(request.app.state, "supervisor", None)
    if created and supervisor is not None:
        supervisor.wake()
    if wait > 0 and row.status in ("queued", "processing"):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        # a form-only case is decided within milliseconds, one with scans takes seconds: look often
        # at first, then back off (each look is a database read that takes CPU from the worker)
        pause = 0.005
        while loop.time() < deadline:
            await asyncio.sleep(min(pause, max(deadline - loop.time(), 0.0)))
            pause = min(pause * 1.5, 0.1)
            fresh = await run_in_threadpool(cases.case_if_done, services, row.id)
            if fresh is not None:
                row = fresh
                break
    response.status_code = (
        201 if created and row.status in ("decided", "failed") else (202 if created else 200)
    )
    response.headers["Location"] = f"/api/v1/cases/{row.id}"
    return _accepted(row, created)


@router.post(
    "/cases",
    response_model=CaseAccepted,
    status_code=202,
    summary="提交案件（仅表单，无附件）",
    responses=SUBMIT_RESPONSES | problems.responses(400, 401, 403, 409, 413, 422, described=_CONFLICT),
)
async def submit_json(
    request: Request,
    response: Response,
    services: ServicesDep,
    user: SignedInDep,
    case: CaseBody,
    idempotency_key: IdempotencyKey = None,
    wait: Wait = 0,
) -> CaseAccepted:
    return await _submit(request, services, user, case, [], idempotency_key, wait, response)


@router.post(
    "/cases/multipart",
    response_model=CaseAccepted,
    status_code=202,
    summary="提交案件及材料文件（multipart）",
    responses=SUBMIT_RESPONSES | problems.responses(400, 401, 403, 409, 413, 415, 422, described=_CONFLICT),
)
async def submit_multipart(
    request: Request,
    response: Response,
    services: ServicesDep,
    user: SignedInDep,
    case: Annotated[
        str,
        Form(
            description="案件 JSON 文本；documents[].path 与上传文件名一致",
            json_schema_extra={"contentMediaType": "application/json", "contentSchema": ref(Case)},
        ),
    ],
    files: Annotated[list[UploadFile] | None, File(description="材料文件（PDF、PNG、JPEG、TIFF）")] = None,
    idempotency_key: IdempotencyKey = None,
    wait: Wait = 0,
) -> CaseAccepted:
    refused = jsontext.refusal(
        case.encode("utf-8", "replace"), max_values=services.settings.max_json_values, max_depth=MAX_DEPTH
    )
    if refused is not None:
        raise TooManyValues(f"case 字段的 {refused}", problems=[{"path": "case", "message": refused}])
    try:
        data = json.loads(case)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"case 字段不是合法 JSON：第 {exc.lineno} 行第 {exc.colno} 列",
            problems=[{"path": "case", "message": exc.msg}],
        ) from exc
    except RecursionError as exc:
        raise InvalidRequest(
            "case 字段的 JSON 嵌套层数过多", problems=[{"path": "case", "message": "嵌套层数过多"}]
        ) from exc
    # the files stay where the form parser spooled them (to disk past 1 MiB): never read whole here
    limit = services.settings.max_upload_bytes
    uploads: list[cases.Upload] = []
    total = 0
    for f in files or []:
        size = f.size if f.size is not None else f.file.seek(0, 2)
        total += size
        if total > limit:
            raise TooLarge(f"上传文件合计超过 {limit // 2**20} MiB 上限")
        name = f.filename or ""
        if not name:
            raise InvalidRequest("上传文件缺少文件名", problems=[{"path": "files", "message": "缺少文件名"}])
        uploads.append(cases.Upload(name=name, file=f.file, size=size))
    return await _submit(request, services, user, data, uploads, idempotency_key, wait, response)


@router.post(
    "/decide",
    response_model=PreCheckAnswer,
    summary="预审：按现行规则集即时判断一个案件（不受理、不留存；不读材料文件）",
    description="规则作者与管理员得到完整决定；申请人只能预审本人（本企业）的案件，"
    "得到申请人视图（他人信息脱敏，不含规则表达式、取值与来源）。",
    responses=problems.responses(
        400,
        401,
        403,
        413,
        422,
        503,
        described={503: "规则引擎暂不可用，或同时处理的预审请求已达上限（见 Retry-After）"},
    ),
)
async def decide_now(request: Request, user: SignedInDep, case: PreCheckBody) -> Response:
    # Awaited on the event loop: no pool thread and no database session is held while the engine
    # decides (service/engine_pool.py). The body is the decision as the engine process encoded it.
    cases.authorise_case(user, case, pre_check=True)
    pool: EnginePool = request.app.state.engine_pool
    body = await pool.decide(case, now=_now())
    return Response(cases.pre_check_answer(user, case, body), media_type="application/json")


@router.get(
    "/cases",
    response_model=list[CaseSummary],
    summary="案件列表（申请人仅见本人案件；姓名脱敏）",
    responses=problems.responses(401, 403, 422),
)
def list_cases(
    services: ServicesDep,
    user: SignedInDep,
    status: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CaseSummary]:
    return [
        CaseSummary(
            case_id=c.case_id,
            item=c.item,
            applicant=c.applicant,
            status=c.status,
            status_label=labels.label(labels.CASE_STATUS_LABELS, c.status) or c.status,
            outcome=c.outcome,
            outcome_label=labels.label(labels.OUTCOME_LABELS, c.outcome),
            progress_label=labels.progress_label(c.status, c.outcome),
            received_at=c.received_at,
            received_at_local=labels.local_time(c.received_at) or "",
            decided_at=c.decided_at,
            decided_at_local=labels.local_time(c.decided_at),
        )
        for c in _list_cases(services, user=user, status=status, limit=limit)
    ]


def _list_cases(services: Services, *, user: User, status: str | None, limit: int) -> list[Any]:
    with services.sessions() as session:
        return list(cases.list_cases(session, user=user, status=status, limit=limit))


@router.get(
    "/cases/{case_id:case_id}",
    response_model=cases.CaseView,
    summary="案件状态与决定（工作人员见逐条条件、取值与来源；申请人见申请人视图）",
    responses=problems.responses(401, 404),
)
def get_case(case_id: str, services: ServicesDep, user: SignedInDep) -> cases.CaseView:
    with services.sessions() as session:
        row = cases.get_case(session, user=user, case_id=case_id)
        return cases.case_view(session, user=user, row=row, now=_now())
