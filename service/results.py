"""Result documents: issuing one when a case is decided (the PDF itself is rendered by
service/result_pdf.py and kept in the content-addressed store), downloading it, and the public
verification of a code."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.decision import Decision
from engine.program import Program
from service import access, disclosure
from service import result_pdf as results
from service.errors import NotFound
from service.masking import mask_name
from service.transactions import SYSTEM
from store import audit
from store.records import CaseRow, ResultRow, User

if TYPE_CHECKING:
    from service.container import Services


def issue_result(
    services: Services,
    session: Session,
    *,
    row: CaseRow,
    program: Program,
    decision: Decision,
    now: datetime,
    review: str | None = None,
) -> ResultRow:
    code = results.normalize_code(results.new_verification_code())
    base = services.settings.public_base_url.rstrip("/")
    # the applicant's document: other people's ID numbers and certificate numbers masked
    # (service/disclosure.py), in the PDF and in the grants the public verification shows
    shown = disclosure.document_decision(decision, case=row.payload)
    if review is not None:
        review = disclosure.document_text(review, decision=decision, case=row.payload)
    rendered = results.render_result(
        ruleset=program.ruleset,
        decision=shown,
        applicant_name=str(row.payload.get("applicant", {}).get("name", "")),
        verification_code=code,
        verify_url=f"{base}/verify/{code}",
        issued_at=now,
        review=review,
    )
    sha = services.blobs.put(rendered.pdf)
    result = ResultRow(
        code=code,
        case_id=row.id,
        kind=rendered.kind,
        title=rendered.title,
        pdf_sha256=sha,
        grants=json.loads(json.dumps(rendered.grants, ensure_ascii=False, default=str)),
        issued_at=now,
        revoked=False,
    )
    session.add(result)
    session.flush()
    audit.append(
        session,
        key=services.audit_key.secret,
        actor=SYSTEM,
        action="result.issued",
        subject=row.id,
        at=now,
        detail={"code": code, "kind": rendered.kind, "pdf_sha256": sha},
    )
    return result


def verify_result(session: Session, *, code: str) -> dict[str, Any]:
    if not results.is_well_formed(code):
        raise NotFound("核验码格式不正确")
    row = session.get(ResultRow, results.normalize_code(code))
    if row is None:
        raise NotFound("未找到该核验码对应的文书，文书可能为伪造")
    return {
        "genuine": True,
        "valid": not row.revoked,
        "status": "已撤销" if row.revoked else "有效",
        "kind": row.kind,
        "title": row.title,
        "issued_at": row.issued_at.isoformat(),
        "grants": {**row.grants, "applicant": mask_name(str(row.grants.get("applicant", "")))},
    }


def result_pdf(services: Services, session: Session, *, user: User, code: str) -> tuple[ResultRow, bytes]:
    row = session.get(ResultRow, results.normalize_code(code)) if results.is_well_formed(code) else None
    if row is None:
        raise NotFound("没有该文书")
    access.check_case(user, session.get(CaseRow, row.case_id), row.case_id)
    return row, services.blobs.get(row.pdf_sha256)
