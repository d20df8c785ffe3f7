"""The public service guide (办事指南): the item catalogue and each item's guide, no sign-in needed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import ServicesDep, SessionDep, web_session
from api.pages.common import error_page, now, render
from service.errors import ServiceError
from service.guide import catalogue, item_guide

router = APIRouter(include_in_schema=False)


@router.get("/guide", response_class=HTMLResponse)
def guide_list(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    web_session(request, session)  # the header shows who is signed in
    entries = catalogue(services, session, now=now())
    return render(request, "guide_list.html", {"public": True, "nav": "guide", "entries": entries})


@router.get("/guide/{item}", response_class=HTMLResponse)
def guide_page(item: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    signed = web_session(request, session)
    try:
        guide = item_guide(services, session, item=item, now=now())
    except ServiceError as exc:
        return error_page(request, exc)
    me = signed[0] if signed else None
    return render(
        request,
        "guide.html",
        {
            "public": True,
            "nav": "guide",
            "g": guide,
            "may_apply": me is not None
            and me.role == "applicant"
            and me.subject_kind == guide.applicant_kind,
        },
    )
