"""The public service guide: the catalogue of items and each item's 办事指南, from the version in force
(read from the database on every call, so a version takes effect on the guide the moment it does)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import UnknownItemError
from engine.guide import Guide, guide_of
from service.errors import NotFound
from service.rulesets import active_version
from store.records import RulesetVersion

if TYPE_CHECKING:
    from service.container import Services


class CatalogueEntry(BaseModel):
    item: str
    name: str
    department: str
    kind: str
    applicant_kind: str
    applicant_kind_label: str
    time_limit_days: int
    version: str


def catalogue(services: Services, session: Session, *, now: datetime) -> list[CatalogueEntry]:
    """Every item with a version in force, by name."""
    items = session.scalars(select(RulesetVersion.item).distinct()).all()
    out = []
    for item in items:
        try:
            g = item_guide(services, session, item=item, now=now)
        except NotFound:
            continue
        out.append(
            CatalogueEntry(
                item=g.item,
                name=g.name,
                department=g.department,
                kind=g.kind,
                applicant_kind=g.applicant_kind,
                applicant_kind_label=g.applicant_kind_label,
                time_limit_days=g.time_limit_days,
                version=g.version,
            )
        )
    return sorted(out, key=lambda e: (e.department, e.name))


def item_guide(services: Services, session: Session, *, item: str, now: datetime) -> Guide:
    """The 办事指南 of `item` under the version in force at `now`."""
    try:
        version = active_version(session, item=item, at=now)
    except UnknownItemError:
        raise NotFound(f"没有事项 {item}") from None
    return guide_of(services.rulesets.program_for(version))
