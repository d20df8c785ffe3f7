"""The JSON API's result documents: the PDF for those who may see the case, and the public
verification of a code."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import ServicesDep, SessionDep, UserDep
from api.schemas import VerifyOut
from service import results

router = APIRouter(prefix="/api/v1")


@router.get(
    "/results/{code}/pdf",
    summary="下载结果文书 PDF",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def result_pdf(code: str, services: ServicesDep, session: SessionDep, user: UserDep) -> Response:
    row, pdf = results.result_pdf(services, session, user=user, code=code)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{row.code}.pdf"'},
    )


@router.get("/verify/{code}", response_model=VerifyOut, summary="核验结果文书真伪（公开）")
def verify(code: str, session: SessionDep) -> VerifyOut:
    return VerifyOut(**results.verify_result(session, code=code))
