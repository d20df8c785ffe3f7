"""The task forms of the case page: claim, release, decide. Each answers with the case page again
(with the message, or the error and the form as it was sent)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from api.deps import ServicesDep, SessionDep
from api.pages.case import case_page_for as case_page
from api.pages.common import check_csrf, error_page, now, staff
from service import review
from service.container import Services
from service.errors import NotFound, ServiceError
from service.users import User

router = APIRouter(include_in_schema=False)


def _task_action(
    request: Request,
    services: Services,
    session: Session,
    *,
    task_id: int,
    csrf: str,
    act: Callable[[User], Any],
    done: str,
    form: dict[str, str] | None = None,
) -> Response:
    user, ws = staff(request, session, deciding=True)
    check_csrf(ws, csrf)
    case_id = review.visible_task_case(session, user=user, task_id=task_id)
    if case_id is None:
        return error_page(request, NotFound(f"没有编号为 {task_id} 的任务"))
    try:
        act(user)
    except ServiceError as exc:
        session.expire_all()
        return case_page(
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
        act=lambda user: review.claim_task(services, user=user, task_id=task_id, now=now()),
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
        act=lambda user: review.release_task(services, user=user, task_id=task_id, now=now()),
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
    return _task_action(
        request,
        services,
        session,
        task_id=task_id,
        csrf=csrf,
        act=lambda user: review.decide_task(
            services, user=user, task_id=task_id, outcome=outcome, comment=comment, now=now()
        ),
        done="decided",
        form={"comment": comment, "outcome": outcome},
    )
