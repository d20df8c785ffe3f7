"""The JSON API (/api/v1), one module per resource: cases, results (and their verification), review
tasks, rulesets, audit, ratings (好差评), and the public service guide. Routes call the service layer
only."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import audit, cases, guide, ratings, results, rulesets, tasks

router = APIRouter()
"""Each resource's router carries the /api/v1 prefix itself, so a route's path (the metrics label) is
the full one."""
for _resource in (cases, ratings, results, tasks, rulesets, audit, guide):
    router.include_router(_resource.router)
