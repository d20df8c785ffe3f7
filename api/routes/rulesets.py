"""The JSON API's rulesets: the items with their versions, publishing (golden cases first), rollback."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api import problems
from api.deps import ServicesDep, SignedInDep
from api.schemas import ImpactIn, ImpactOut, PublishIn, RulesetItem, VersionOut
from service.impact import impact_for
from service.rulesets import list_rulesets, publish_ruleset, rollback_ruleset
from service.transactions import utcnow

router = APIRouter(prefix="/api/v1")


def _now() -> datetime:
    return utcnow()


@router.get(
    "/rulesets",
    response_model=list[RulesetItem],
    summary="事项及其规则集版本",
    responses=problems.responses(401),
)
def rulesets(services: ServicesDep, user: SignedInDep) -> list[RulesetItem]:
    with services.sessions() as session:
        return [RulesetItem.model_validate(entry) for entry in list_rulesets(session, now=_now())]


@router.post(
    "/rulesets",
    response_model=VersionOut,
    status_code=201,
    summary="发布新版本（须通过样例案件）",
    responses=problems.responses(
        400,
        401,
        403,
        409,
        413,
        422,
        described={409: "未通过样例案件测试，或该版本号已发布", 422: "规则集无法编译，或生效时间缺少时区"},
    ),
)
async def publish(body: PublishIn, services: ServicesDep, user: SignedInDep) -> VersionOut:
    row = await run_in_threadpool(
        publish_ruleset,
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


@router.post(
    "/rulesets/impact",
    response_model=ImpactOut,
    summary="发布前的影响分析：候选版本对已记录决定的改变（不写入任何数据）",
    responses=problems.responses(400, 401, 403, 413, 422, described={422: "候选规则集无法编译"}),
)
async def impact(body: ImpactIn, services: ServicesDep, user: SignedInDep) -> ImpactOut:
    report = await run_in_threadpool(
        impact_for, services, user=user, content=body.content, since=body.since, limit=body.limit
    )
    return ImpactOut.model_validate(report.to_json_dict())


@router.post(
    "/rulesets/{item}/rollback",
    response_model=VersionOut,
    summary="回滚到上一个生效版本",
    responses=problems.responses(
        401, 403, 404, 409, described={404: "没有该事项", 409: "该事项只有一个生效版本，或尚无生效版本"}
    ),
)
def rollback(item: str, services: ServicesDep, user: SignedInDep) -> VersionOut:
    row = rollback_ruleset(services, user=user, item=item, now=_now())
    return VersionOut(
        item=row.item,
        version=row.version,
        sha256=row.sha256,
        status=row.status,
        effective_from=row.effective_from,
    )
