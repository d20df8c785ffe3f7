"""Result documents for staff, and the public verification page of a result's code."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import presenters as p
from api.deps import ServicesDep, SessionDep, web_session
from api.pages.common import error_page, render, staff
from service import results
from service.errors import ServiceError
from service.masking import mask_name

router = APIRouter(include_in_schema=False)


@router.get("/results/{code}.pdf")
def result_pdf(code: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    user, _ws = staff(request, session)
    try:
        row, pdf = results.result_pdf(services, session, user=user, code=code)
    except ServiceError as exc:
        return error_page(request, exc)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{row.code}.pdf"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# -- public verification ---------------------------------------------------------------------------
@router.get("/verify", response_class=HTMLResponse)
def verify_form(request: Request, session: SessionDep, code: str | None = None) -> Response:
    web_session(request, session)
    if code and code.strip():
        return RedirectResponse(f"/verify/{quote(code.strip()[:60], safe='')}", status_code=303)
    return render(request, "verify.html", {"code": "", "result": None, "error": None, "nav": "verify"})


@router.get("/verify/{code}", response_class=HTMLResponse)
def verify(code: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    web_session(request, session)
    try:
        result = results.verify_result(session, code=code)
    except ServiceError as exc:
        return render(
            request,
            "verify.html",
            {"code": code, "result": None, "error": exc.message, "nav": "verify"},
            status=exc.status,
        )
    grants = result.get("grants") or {}
    ruleset = services.rulesets.by_sha(session, (grants.get("ruleset") or {}).get("sha256"))
    outputs = []
    for k, o in (grants.get("outputs") or {}).items():
        if isinstance(o, dict):
            spec = ruleset.outputs.get(k) if ruleset else None
            outputs.append((o.get("title", k), p.output_text(spec.labels if spec else None, o.get("value"))))
    return render(
        request,
        "verify.html",
        {
            "code": code.strip().upper(),
            "result": result,
            "grants": grants,
            "applicant": mask_name(str(grants.get("applicant") or "")),
            "outputs": outputs,
            "error": None,
            "nav": "verify",
        },
    )
