"""The JSON API's 好差评: an applicant rates their ended case; anyone who may see the case reads its
rating (service/ratings.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response

from api import problems
from api.deps import ServicesDep, SignedInDep
from api.schemas import RatingIn
from service import ratings
from service.transactions import utcnow

router = APIRouter(prefix="/api/v1")
_CREATED: dict[int | str, dict[str, Any]] = {201: {"description": "已评价"}}


def _now() -> datetime:
    return utcnow()


@router.post(
    "/cases/{case_id:case_id}/rating",
    response_model=ratings.RatingView,
    status_code=201,
    summary="好差评：申请人评价本人已办结的案件（每件一次）",
    description="五级评价：非常满意、满意、基本满意、不满意、非常不满意；评价内容可选，不超过 "
    f"{ratings.MAX_COMMENT} 字。不满意、非常不满意将转办理部门回访整改。每件案件只能评价一次，不能修改。",
    responses=_CREATED
    | problems.responses(
        400,
        401,
        403,
        404,
        409,
        413,
        422,
        described={
            403: "只有案件的申请人本人可以评价",
            409: "案件尚未办结，或已评价过（原因见 detail）",
        },
    ),
)
def rate(
    case_id: str, body: RatingIn, services: ServicesDep, user: SignedInDep, response: Response
) -> ratings.RatingView:
    view = ratings.rate_case(
        services, user=user, case_id=case_id, level=body.level, comment=body.comment, now=_now()
    )
    response.headers["Location"] = f"/api/v1/cases/{case_id}/rating"
    return view


@router.get(
    "/cases/{case_id:case_id}/rating",
    response_model=ratings.RatingState,
    summary="案件的好差评：已有的评价，或当前能否评价及原因",
    responses=problems.responses(401, 404),
)
def get_rating(case_id: str, services: ServicesDep, user: SignedInDep) -> ratings.RatingState:
    with services.sessions() as session:
        return ratings.rating_state(session, user=user, case_id=case_id)
