"""The public service guide as JSON: the item catalogue and each item's 办事指南 under the version in
force (the same data as the guide pages and `miaopi guide`)."""

from __future__ import annotations

from fastapi import APIRouter

from api import problems
from api.deps import ServicesDep
from engine.guide import Guide
from service.guide import CatalogueEntry, catalogue, item_guide
from service.transactions import utcnow

router = APIRouter(prefix="/api/v1")


@router.get(
    "/guide",
    response_model=list[CatalogueEntry],
    summary="办事指南：事项目录（公开）",
    tags=["guide"],
)
def guide_catalogue(services: ServicesDep) -> list[CatalogueEntry]:
    with services.sessions() as session:
        return catalogue(services, session, now=utcnow())


@router.get(
    "/guide/{item}",
    response_model=Guide,
    summary="办事指南：一个事项的现行办事指南（公开）",
    tags=["guide"],
    responses=problems.responses(404, described={404: "没有该事项，或尚无生效的版本"}),
)
def guide_item(item: str, services: ServicesDep) -> Guide:
    with services.sessions() as session:
        return item_guide(services, session, item=item, now=utcnow())
