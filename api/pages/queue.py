"""The review queue and the post-check queue of the signed-in approver's department (all departments
for auditors and admins): red cards first, then by due time."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api import presenters as p
from api.deps import ServicesDep, SessionDep
from api.pages.common import error_page, now, render, staff
from service import access, review, stats
from service.container import Services
from service.errors import ServiceError

router = APIRouter(include_in_schema=False)


def _queue(
    request: Request, services: Services, session: Session, *, kind: str, card: str | None
) -> Response:
    user, _ws = staff(request, session)
    at = now()
    if card not in (None, "", "red", "yellow", "green"):
        card = None
    try:
        entries = review.queue(services, session, user=user, now=at, kind=kind, card=card or None)
    except ServiceError as exc:
        return error_page(request, exc)
    department = access.queue_department(user)
    counts = review.queue_counts(session, department=department, now=at)
    rows = [
        {
            **e.task.model_dump(),
            "item": e.item_name,
            "applicant": e.applicant,
            "received_at": e.received_at,
            "due": e.task.due_at,
            "days_left": p.days_left(e.task.due_at, at),
            "can_claim": access.may_claim(user, e.task),
        }
        for e in entries
    ]
    totals = {k: counts.get(k, {"red": 0, "yellow": 0, "green": 0}) for k in ("review", "post_check")}
    figures = stats.stats(session, now=at)
    return render(
        request,
        "queue.html",
        {
            "kind": kind,
            "card": card or None,
            "rows": rows,
            "counts": totals[kind],
            "totals": totals,
            "department": department or "全部部门",
            "auto_rate": figures["auto_approval_rate"],
            "can_decide": access.may_decide(user),
            "path": "/queue" if kind == "review" else "/post-checks",
            "nav": kind,
            "now": at,
        },
    )


@router.get("/queue", response_class=HTMLResponse)
def queue(request: Request, services: ServicesDep, session: SessionDep, card: str | None = None) -> Response:
    return _queue(request, services, session, kind="review", card=card)


@router.get("/post-checks", response_class=HTMLResponse)
def post_checks(
    request: Request, services: ServicesDep, session: SessionDep, card: str | None = None
) -> Response:
    return _queue(request, services, session, kind="post_check", card=card)
