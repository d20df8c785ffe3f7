"""好差评 for the staff: the 差评回访 queue of the department (the follow-up tasks bad ratings opened,
each closed with a note on what was done) and the ratings summary per item and per department. What is
shown comes from service/ratings.py; personal data in the lists is masked there."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from api import presenters as p
from api.deps import ServicesDep, SessionDep
from api.pages.common import check_csrf, error_page, now, render, staff
from service import access, ratings
from service.container import Services
from service.errors import ServiceError
from service.users import User

router = APIRouter(include_in_schema=False)


def _follow_ups_page(
    request: Request,
    services: Services,
    session: Session,
    *,
    user: User,
    error: ServiceError | None = None,
    notes: dict[int, str] | None = None,
    status: int = 200,
) -> Response:
    at = now()
    show_done = request.query_params.get("done") == "1"
    try:
        entries = ratings.follow_ups(services, session, user=user, now=at, include_done=show_done)
    except ServiceError as exc:
        return error_page(request, exc)
    rows = [
        {
            "task": e.task,
            "item_name": e.item_name,
            "applicant": e.applicant,
            "level_label": e.level_label,
            "score": e.score,
            "comment": e.comment,
            "rated_at": e.rated_at,
            "days_left": p.days_left(e.task.due_at, at) if e.task.status != "done" else "",
        }
        for e in entries
    ]
    return render(
        request,
        "follow_ups.html",
        {
            "nav": "follow_up",
            "rows": rows,
            "department": access.queue_department(user) or "全部部门",
            "can_decide": access.may_decide(user),
            "show_done": show_done,
            "error": error,
            "notes": notes or {},
            "message": "回访任务已办结。" if request.query_params.get("msg") == "closed" else None,
        },
        status=status,
    )


@router.get("/follow-ups", response_class=HTMLResponse)
def follow_ups(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    user, _ws = staff(request, session)
    return _follow_ups_page(request, services, session, user=user)


@router.post("/follow-ups/{task_id}/close", response_class=HTMLResponse)
def close(
    task_id: int,
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    csrf: str = Form("", max_length=100),
    comment: str = Form("", max_length=4000),
) -> Response:
    user, ws = staff(request, session, deciding=True)
    check_csrf(ws, csrf)
    try:
        ratings.close_follow_up(services, user=user, task_id=task_id, note=comment, now=now())
    except ServiceError as exc:
        if exc.status == 404:
            return error_page(request, exc)
        session.expire_all()
        return _follow_ups_page(
            request, services, session, user=user, error=exc, notes={task_id: comment}, status=exc.status
        )
    return RedirectResponse("/follow-ups?msg=closed", status_code=303)


@router.get("/ratings", response_class=HTMLResponse)
def summary(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    user, _ws = staff(request, session)
    try:
        by_item = ratings.summary(session, user=user, by="item")
        by_department = ratings.summary(session, user=user, by="department")
    except ServiceError as exc:
        return error_page(request, exc)
    names = ratings.item_names(services, session, {s.item for s in by_item if s.item}, now=now())
    return render(
        request,
        "ratings.html",
        {
            "nav": "ratings",
            "by_item": by_item,
            "by_department": by_department,
            "names": names,
            "level_labels": [lab for _score, lab in ratings.LEVELS.values()],
            "department": access.queue_department(user) or "全部部门",
        },
    )
