"""The JSON API's review tasks: the queue (red cards first), claim, release, decide."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy.orm import Session

from api import problems
from api.deps import ServicesDep, SignedInDep
from api.schemas import DecideIn, TaskList, TaskOut
from service import access, review
from service.transactions import utcnow

router = APIRouter(prefix="/api/v1")
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1, description="任务编号")]
"""Bounded to the INTEGER column: a larger id would overflow the database driver (a 500, not a 404)."""


def _now() -> datetime:
    return utcnow()


def _task_out(session: Session, t: Any) -> TaskOut:
    return TaskOut(**review.task_summary(session, t, now=_now()).model_dump())


@router.get(
    "/tasks",
    response_model=TaskList,
    summary="审核任务（红牌在前，再按到期时间）",
    responses=problems.responses(401, 403, 422),
)
def list_tasks(
    services: ServicesDep,
    user: SignedInDep,
    kind: Annotated[
        str,
        Query(
            pattern="^(review|post_check|follow_up)$",
            description="review、post_check 或 follow_up（差评回访）",
        ),
    ] = "review",
    department: Annotated[str | None, Query(max_length=100)] = None,
    card: Annotated[str | None, Query(pattern="^(red|yellow|green)$")] = None,
) -> TaskList:
    now = _now()
    with services.sessions() as session:
        tasks = review.list_tasks(session, user=user, now=now, kind=kind, department=department, card=card)
        dept = access.task_department(user, department)
        counts = review.queue_counts(session, department=dept, now=now).get(
            kind, {"red": 0, "yellow": 0, "green": 0}
        )
        return TaskList(tasks=[_task_out(session, t) for t in tasks], counts=counts)


ACTION = problems.responses(401, 403, 404, 409, 422)


@router.post("/tasks/{task_id}/claim", response_model=TaskOut, summary="认领任务", responses=ACTION)
def claim(task_id: TaskId, services: ServicesDep, user: SignedInDep) -> TaskOut:
    t = review.claim_task(services, user=user, task_id=task_id, now=_now())
    with services.sessions() as session:
        return _task_out(session, t)


@router.post("/tasks/{task_id}/release", response_model=TaskOut, summary="释放任务", responses=ACTION)
def release(task_id: TaskId, services: ServicesDep, user: SignedInDep) -> TaskOut:
    t = review.release_task(services, user=user, task_id=task_id, now=_now())
    with services.sessions() as session:
        return _task_out(session, t)


@router.post(
    "/tasks/{task_id}/decide",
    response_model=TaskOut,
    summary="作出审核决定（意见必填）",
    responses=problems.responses(400, 401, 403, 404, 409, 413, 422),
)
def decide(task_id: TaskId, body: DecideIn, services: ServicesDep, user: SignedInDep) -> TaskOut:
    t = review.decide_task(
        services, user=user, task_id=task_id, outcome=body.outcome, comment=body.comment, now=_now()
    )
    with services.sessions() as session:
        return _task_out(session, t)
