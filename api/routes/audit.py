"""The JSON API's audit trail: checking the hash chain, the signed head and the checkpoints."""

from __future__ import annotations

from fastapi import APIRouter

from api import problems
from api.deps import ServicesDep, SignedInDep
from api.schemas import AuditReport
from service import audit

router = APIRouter(prefix="/api/v1")


@router.get(
    "/audit/verify", response_model=AuditReport, summary="校验审计链", responses=problems.responses(401, 403)
)
def audit_verify(services: ServicesDep, user: SignedInDep) -> AuditReport:
    r = audit.verify_chain(services, user=user)
    return AuditReport(
        events=r.events, ok=r.ok, broken_at=r.broken_at, problem=r.problem, checkpoints=r.checkpoints
    )
