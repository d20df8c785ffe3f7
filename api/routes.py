"""The JSON API (/api/v1): cases, review tasks, rulesets, result verification, audit."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Form, Header, Path, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from api.deps import ServicesDep, SessionDep, SignedInDep, UserDep
from api.schemas import (
    AuditReport,
    CaseAccepted,
    CaseSummary,
    DecideIn,
    PublishIn,
    TaskList,
    TaskOut,
    VerifyOut,
    VersionOut,
)
from service import cases, container, results, review, rulesets, transactions
from service.engine_pool import EnginePool
from service.errors import Forbidden, InvalidRequest, TooLarge
from service.masking import mask_name
from store import audit
from store.records import CaseRow, TaskRow, User

router = APIRouter(prefix="/api/v1")
SUBMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "重复提交，返回已受理的案件"},
    201: {"description": "已受理并已作出决定"},
}
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=200, description="重试时返回同一案件，不会重复受理"),
]
Wait = Annotated[float, Query(ge=0, le=30, description="最多等待引擎作出决定的秒数（0 为立即返回）")]
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1, description="任务编号")]
"""Bounded to the INTEGER column: a larger id would overflow the database driver (a 500, not a 404)."""


def _now() -> datetime:
    return transactions.utcnow()


def _accepted(row: CaseRow, created: bool) -> CaseAccepted:
    return CaseAccepted(
        case_id=row.id,
        status=row.status,
        outcome=row.outcome,
        created=created,
        links={"self": f"/api/v1/cases/{row.id}"},
    )


def _case_if_done(services: container.Services, case_id: str) -> CaseRow | None:
    with services.sessions() as session:
        fresh = session.get(CaseRow, case_id)
        return fresh if fresh is not None and fresh.status in ("decided", "failed") else None


async def _submit(
    request: Request,
    services: container.Services,
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
            fresh = await run_in_threadpool(_case_if_done, services, row.id)
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
    responses=SUBMIT_RESPONSES,
)
async def submit_json(
    request: Request,
    response: Response,
    services: ServicesDep,
    user: UserDep,
    case: Annotated[dict[str, Any], Body(description="案件 JSON（DESIGN.md §3）")],
    idempotency_key: IdempotencyKey = None,
    wait: Wait = 0,
) -> CaseAccepted:
    return await _submit(request, services, user, case, [], idempotency_key, wait, response)


@router.post(
    "/cases/multipart",
    response_model=CaseAccepted,
    status_code=202,
    summary="提交案件及材料文件（multipart）",
    responses=SUBMIT_RESPONSES,
)
async def submit_multipart(
    request: Request,
    response: Response,
    services: ServicesDep,
    user: UserDep,
    case: Annotated[str, Form(description="案件 JSON 文本；documents[].path 与上传文件名一致")],
    files: Annotated[list[UploadFile] | None, File(description="材料文件（PDF、PNG、JPEG、TIFF）")] = None,
    idempotency_key: IdempotencyKey = None,
    wait: Wait = 0,
) -> CaseAccepted:
    try:
        data = json.loads(case)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"case 字段不是合法 JSON：第 {exc.lineno} 行第 {exc.colno} 列",
            problems=[{"path": "case", "message": exc.msg}],
        ) from exc
    limit = services.settings.max_upload_bytes
    uploads: list[cases.Upload] = []
    total = 0
    for f in files or []:
        chunks = []
        while chunk := await f.read(1 << 20):
            total += len(chunk)
            if total > limit:
                raise TooLarge(f"上传文件合计超过 {limit // 2**20} MiB 上限")
            chunks.append(chunk)
        name = f.filename or ""
        if not name:
            raise InvalidRequest("上传文件缺少文件名", problems=[{"path": "files", "message": "缺少文件名"}])
        uploads.append(cases.Upload(name=name, data=b"".join(chunks)))
    return await _submit(request, services, user, data, uploads, idempotency_key, wait, response)


@router.post(
    "/decide",
    response_model=dict[str, Any],
    summary="预审：按现行规则集即时判断一个案件（不受理、不留存；不读材料文件）",
    responses={503: {"description": "规则引擎暂不可用，或同时处理的预审请求已达上限（见 Retry-After）"}},
)
async def decide_now(
    request: Request,
    user: SignedInDep,
    case: Annotated[dict[str, Any], Body(description="案件 JSON（DESIGN.md §3），documents 须为空")],
) -> Response:
    # Awaited on the event loop: no pool thread and no database session is held while the engine
    # decides (miaopi/engine_pool.py). The body is the decision as the engine process encoded it.
    if user.role not in ("applicant", "rule_author", "admin"):
        raise Forbidden("该角色不能使用预审")
    pool: EnginePool = request.app.state.engine_pool
    body = await pool.decide(case, now=_now())
    return Response(body, media_type="application/json")


@router.get("/cases", response_model=list[CaseSummary], summary="案件列表（申请人仅见本人案件；姓名脱敏）")
def list_cases(
    session: SessionDep,
    user: UserDep,
    status: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CaseSummary]:
    q = select(CaseRow).order_by(CaseRow.received_at.desc()).limit(limit)
    if user.role == "applicant":
        q = q.where(CaseRow.submitted_by == user.id)
    elif user.role == "approver":
        q = q.where(CaseRow.department == user.department)
    elif user.role not in ("auditor", "admin"):
        raise Forbidden("该角色无权查看案件")
    if status is not None:
        q = q.where(CaseRow.status == status)
    return [
        CaseSummary(
            case_id=r.id,
            item=r.item,
            applicant=mask_name(str(r.payload.get("applicant", {}).get("name", ""))),
            status=r.status,
            outcome=r.outcome,
            received_at=r.received_at,
            decided_at=r.decided_at,
        )
        for r in session.scalars(q)
    ]


@router.get("/cases/{case_id}", summary="案件状态与决定（含逐条条件、取值与来源）")
def get_case(case_id: str, session: SessionDep, user: UserDep) -> dict[str, Any]:
    row = cases.get_case(session, user=user, case_id=case_id)
    return cases.case_view(session, row=row, now=_now()).model_dump()


@router.get(
    "/results/{code}/pdf",
    summary="下载结果文书 PDF",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def result_pdf(code: str, services: ServicesDep, session: SessionDep, user: UserDep) -> Response:
    row, pdf = results.result_pdf(services, session, user=user, code=code)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{row.code}.pdf"'},
    )


@router.get("/verify/{code}", response_model=VerifyOut, summary="核验结果文书真伪（公开）")
def verify(code: str, session: SessionDep) -> VerifyOut:
    return VerifyOut(**results.verify_result(session, code=code))


# -- review tasks --------------------------------------------------------------------------------------
def _task_out(session: Any, t: TaskRow) -> TaskOut:
    row = session.get(CaseRow, t.case_id)
    applicant = mask_name(str(row.payload.get("applicant", {}).get("name", ""))) if row else None
    return TaskOut(
        **review.task_view(t, now=_now()).model_dump(), applicant=applicant, item=row.item if row else None
    )


@router.get("/tasks", response_model=TaskList, summary="审核任务（红牌在前，再按到期时间）")
def list_tasks(
    session: SessionDep,
    user: UserDep,
    kind: Annotated[str, Query(pattern="^(review|post_check)$")] = "review",
    department: Annotated[str | None, Query(max_length=100)] = None,
    card: Annotated[str | None, Query(pattern="^(red|yellow|green)$")] = None,
) -> TaskList:
    now = _now()
    tasks = review.list_tasks(session, user=user, now=now, kind=kind, department=department, card=card)
    dept = user.department if user.role == "approver" else department
    counts = review.queue_counts(session, department=dept, now=now).get(
        kind, {"red": 0, "yellow": 0, "green": 0}
    )
    return TaskList(tasks=[_task_out(session, t) for t in tasks], counts=counts)


@router.post("/tasks/{task_id}/claim", response_model=TaskOut, summary="认领任务")
def claim(task_id: TaskId, services: ServicesDep, session: SessionDep, user: UserDep) -> TaskOut:
    t = review.claim_task(services, user=user, task_id=task_id, now=_now())
    return _task_out(session, t)


@router.post("/tasks/{task_id}/release", response_model=TaskOut, summary="释放任务")
def release(task_id: TaskId, services: ServicesDep, session: SessionDep, user: UserDep) -> TaskOut:
    t = review.release_task(services, user=user, task_id=task_id, now=_now())
    return _task_out(session, t)


@router.post("/tasks/{task_id}/decide", response_model=TaskOut, summary="作出审核决定（意见必填）")
def decide(
    task_id: TaskId, body: DecideIn, services: ServicesDep, session: SessionDep, user: UserDep
) -> TaskOut:
    t = review.decide_task(
        services, user=user, task_id=task_id, outcome=body.outcome, comment=body.comment, now=_now()
    )
    return _task_out(session, t)


# -- rulesets ------------------------------------------------------------------------------------------
@router.get("/rulesets", summary="事项及其规则集版本")
def list_rulesets(session: SessionDep, user: UserDep) -> list[dict[str, Any]]:
    return rulesets.list_rulesets(session, now=_now())


@router.post("/rulesets", response_model=VersionOut, status_code=201, summary="发布新版本（须通过样例案件）")
async def publish(body: PublishIn, services: ServicesDep, user: UserDep) -> VersionOut:
    row = await run_in_threadpool(
        rulesets.publish_ruleset,
        services,
        user=user,
        content=body.content,
        effective_from=body.effective_from,
        now=_now(),
    )
    return VersionOut(
        item=row.item,
        version=row.version,
        sha256=row.sha256,
        status=row.status,
        effective_from=row.effective_from,
    )


@router.post("/rulesets/{item}/rollback", response_model=VersionOut, summary="回滚到上一个生效版本")
def rollback(item: str, services: ServicesDep, user: UserDep) -> VersionOut:
    row = rulesets.rollback_ruleset(services, user=user, item=item, now=_now())
    return VersionOut(
        item=row.item,
        version=row.version,
        sha256=row.sha256,
        status=row.status,
        effective_from=row.effective_from,
    )


# -- audit ---------------------------------------------------------------------------------------------
@router.get("/audit/verify", response_model=AuditReport, summary="校验审计链")
def audit_verify(session: SessionDep, user: UserDep) -> AuditReport:
    if user.role not in ("auditor", "admin"):
        raise Forbidden("仅审计人员和管理员可校验审计链")
    r = audit.verify(session)
    return AuditReport(events=r.events, ok=r.ok, broken_at=r.broken_at, problem=r.problem)
