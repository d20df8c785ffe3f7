"""The web pages, one module per screen: the approvers' sign-in (login), the review and post-check
queues (queue), the case page (case), its task forms (task), result documents and the public
verification page (results), the 差评回访 queue and the ratings summary (ratings); the public service
guide (guide) and the applicant's pages (applicant: sign-in, their cases, applying, progress,
correction, 好差评). What they show and how comes from
api/presenters.py; what they show comes from the service layer."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from api.pages import applicant, case, common, guide, login, queue, ratings, results, task

router = APIRouter(include_in_schema=False)
for _screen in (login, queue, case, task, results, guide, applicant, ratings):
    router.include_router(_screen.router)


def install(app: FastAPI) -> None:
    """Add the pages, their static files and their error pages to the application."""
    common.install(app)
    app.include_router(router)
