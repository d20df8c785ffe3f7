"""The JSON API's result documents: the PDF for those who may see the case, and the public
verification of a code."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api import problems
from api.deps import ServicesDep, SignedInDep
from api.schemas import VerifyOut
from service import results

router = APIRouter(prefix="/api/v1")


@router.get(
    "/results/{code}/pdf",
    summary="下载结果文书 PDF",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
        **problems.responses(401, 404),
    },
)
def result_pdf(code: str, services: ServicesDep, user: SignedInDep) -> Response:
    with services.sessions() as session:
        row, pdf = results.result_pdf(services, session, user=user, code=code)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{row.code}.pdf"'},
    )


@router.get(
    "/verify/{code}",
    response_model=VerifyOut,
    summary="核验结果文书真伪（公开）",
    responses=problems.responses(404, described={404: "核验码格式不正确，或没有对应的文书（可能为伪造）"}),
)
def verify(code: str, services: ServicesDep) -> VerifyOut:
    with services.sessions() as session:
        return VerifyOut(**results.verify_result(session, code=code))
