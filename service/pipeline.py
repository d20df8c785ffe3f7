"""The worker's pipeline: take a case by lease, read its documents, look up the registries (one snapshot
per decision), decide, and record in one transaction the decision with its exact facts, the review task
or the result document, and the audit event. Failures are retried, then the case goes to a person.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from engine.case import CHINA_TZ, DocumentRef, parse_case
from engine.decision import Decision
from engine.evaluate import DurableEvaluator, Evaluator
from engine.program import Program
from service.cases import decide_program
from service.documents import DocumentReader
from service.records import RecordingRegistry, encode_documents
from service.results import issue_result
from service.review import open_task
from service.rulesets import active_version
from service.transactions import SYSTEM, changed, writing
from store import audit
from store.records import CaseDocument, CaseRow, DecisionRow, ExtractionRow

if TYPE_CHECKING:
    from service.container import Services

log = logging.getLogger("miaopi.workflow")


class WorkerLost(RuntimeError):
    """Earlier attempts at a case ended without a result: their worker process died."""


def lease_next(services: Services, *, owner: str, now: datetime) -> str | None:
    """Take the oldest case that is queued or whose lease has expired; None when there is none.
    The compare-and-set update makes two workers never hold the same case."""
    lease = timedelta(seconds=services.settings.lease_seconds)
    with writing(services) as session:
        candidates = session.execute(
            select(CaseRow.id, CaseRow.status, CaseRow.attempts)
            .where(
                or_(
                    CaseRow.status == "queued",
                    and_(CaseRow.status == "processing", CaseRow.lease_until < now),
                )
            )
            .order_by(CaseRow.received_at)
            .limit(5)
        ).all()
        for case_id, status, attempts in candidates:
            took = changed(
                session,
                update(CaseRow)
                .where(CaseRow.id == case_id, CaseRow.status == status, CaseRow.attempts == attempts)
                .values(
                    status="processing", lease_owner=owner, lease_until=now + lease, attempts=attempts + 1
                ),
            )
            if took == 1:
                return case_id
    return None


def process_case(
    services: Services,
    *,
    case_id: str,
    owner: str,
    reader: DocumentReader,
    evaluator: Evaluator | None = None,
    now: datetime,
) -> str | None:
    """Decide a leased case and record everything in one transaction. Returns the outcome, or None when
    the lease was lost (another worker decides it). Failures are retried up to the attempt limit, then
    the case goes to a person with the reason: never approved on an error."""
    with services.sessions() as session:
        row = session.get(CaseRow, case_id)
        if row is None or row.status != "processing" or row.lease_owner != owner:
            return None
        payload, attempts, round_ = dict(row.payload), row.attempts, row.round
        received_at = row.received_at
        docs = session.scalars(select(CaseDocument).where(CaseDocument.case_id == case_id)).all()
        version = active_version(session, item=row.item, at=received_at)
        doc_rows = [(d.ref, d.kind, d.sha256) for d in docs]
    if attempts > services.settings.max_attempts:
        # Every lease counts as an attempt, also one whose worker died before it could record a failure
        # (a case that kills its worker never reaches _record_failure): past the limit the case goes to
        # a person instead of being tried again and again.
        crashed = WorkerLost(
            f"处理该案件的工作进程已 {attempts - 1} 次未能完成（进程意外终止），不再自动重试，转人工审核"
        )
        return _record_failure(
            services, case_id=case_id, owner=owner, attempts=attempts, error=crashed, now=now
        )
    try:
        program = services.rulesets.program_for(version)
        case = parse_case(payload, ruleset=program.ruleset)
        blob_paths = {ref: services.blobs.path(sha) for ref, _kind, sha in doc_rows}
        stored_case = case.model_copy(
            update={
                "documents": [
                    DocumentRef(kind=d.kind, path=str(blob_paths[d.path].relative_to(services.blobs.root)))
                    for d in case.documents
                ]
            }
        )
        documents = reader.facts_for(program, stored_case, services.blobs.root)
        # the facts keep the case's own document names, not the storage paths
        for d in case.documents:
            if d.kind in documents:
                documents[d.kind].path = d.path
        sql = services.registry
        registry = RecordingRegistry(sql)
        decided_now = received_at.astimezone(CHINA_TZ)
        with sql.reading():
            decision = decide_program(
                program,
                case,
                registry=registry,
                evaluator=evaluator or DurableEvaluator(),
                documents=documents,
                now=decided_now,
            )
    except Exception as exc:  # any failure: retry, then a person decides; never approved
        log.exception("case %s failed (attempt %d)", case_id, attempts)
        return _record_failure(services, case_id=case_id, owner=owner, attempts=attempts, error=exc, now=now)
    facts = {
        "case": payload,
        "now": decided_now.isoformat(),
        "registry": registry.calls,
        "records": registry.records(),
        "documents": encode_documents(documents),
    }
    return _record_decision(
        services,
        case_id=case_id,
        owner=owner,
        program=program,
        decision=decision,
        facts=facts,
        documents=documents,
        doc_shas={kind: sha for _r, kind, sha in doc_rows},
        round_=round_,
        now=now,
    )


def _record_decision(
    services: Services,
    *,
    case_id: str,
    owner: str,
    program: Program,
    decision: Decision,
    facts: dict[str, Any],
    documents: Mapping[str, Any],
    doc_shas: dict[str, str],
    round_: int = 1,
    now: datetime,
) -> str | None:
    outcome = decision.outcome
    try:
        with services.sessions.begin() as session:
            took = changed(
                session,
                update(CaseRow)
                .where(
                    CaseRow.id == case_id,
                    CaseRow.status == "processing",
                    CaseRow.lease_owner == owner,
                    CaseRow.round == round_,
                )
                .values(
                    status="decided",
                    outcome=outcome,
                    engine_outcome=outcome,
                    decided_at=now,
                    lease_owner=None,
                    lease_until=None,
                    error=None,
                ),
            )
            if took != 1:
                session.rollback()
                return None
            row = session.get(CaseRow, case_id)
            assert row is not None
            session.add(
                DecisionRow(
                    case_id=case_id,
                    round=round_,
                    item=program.item,
                    ruleset_version=program.ruleset.version,
                    ruleset_sha256=program.sha256,
                    outcome=outcome,
                    facts=facts,
                    decision=decision.to_json_dict(),
                    decided_at=now,
                    elapsed_ms=decision.elapsed_ms,
                )
            )
            for kind, doc in encode_documents(documents).items():
                session.add(
                    ExtractionRow(
                        case_id=case_id, round=round_, kind=kind, sha256=doc_shas.get(kind), facts=doc
                    )
                )
            audit.append(
                session,
                key=services.audit_key.secret,
                actor=SYSTEM,
                action="case.decided",
                subject=case_id,
                at=now,
                detail={
                    "outcome": outcome,
                    "ruleset": f"{program.item}@{program.ruleset.version}",
                    "sha256": program.sha256,
                    "reasons": len(decision.reasons),
                    "round": round_,
                },
            )
            if outcome == "review":
                open_task(services, session, row=row, kind="review", program=program, now=now)
            else:
                issue_result(services, session, row=row, program=program, decision=decision, now=now)
                if outcome == "approved" and row.commitment and _sampled(services, case_id):
                    open_task(services, session, row=row, kind="post_check", program=program, now=now)
    except IntegrityError:
        log.warning("case %s already has a decision; this one is dropped", case_id)
        return None
    return outcome


def _sampled(services: Services, case_id: str) -> bool:
    """Random sampling for 事后核查, reproducible per case (seeded by the case id)."""
    rate = services.settings.post_check_rate
    return random.Random(hashlib.sha256(case_id.encode()).digest()).random() < rate


def _record_failure(
    services: Services, *, case_id: str, owner: str, attempts: int, error: Exception, now: datetime
) -> str | None:
    message = f"{type(error).__name__}: {error}"[:2000]
    final = attempts >= services.settings.max_attempts
    with services.sessions.begin() as session:
        took = changed(
            session,
            update(CaseRow)
            .where(CaseRow.id == case_id, CaseRow.status == "processing", CaseRow.lease_owner == owner)
            .values(
                status="failed" if final else "queued",
                outcome="review" if final else None,
                lease_owner=None,
                lease_until=None,
                error=message,
            ),
        )
        if took != 1:
            return None
        audit.append(
            session,
            key=services.audit_key.secret,
            actor=SYSTEM,
            action="case.failed" if final else "case.retry",
            subject=case_id,
            at=now,
            detail={"attempts": attempts, "error": type(error).__name__},
        )
        if final:
            row = session.get(CaseRow, case_id)
            assert row is not None
            version = active_version(session, item=row.item, at=row.received_at)
            open_task(
                services,
                session,
                row=row,
                kind="review",
                program=services.rulesets.program_for(version),
                now=now,
            )
            return "review"
    return None
