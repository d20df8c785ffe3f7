"""Figures for /metrics, /health and the queue page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from store.records import CaseRow, DecisionRow, RulesetVersion, TaskRow, latest_round_only


def stats(session: Session, *, now: datetime) -> dict[str, Any]:
    """Figures for /metrics and the queue page: cases by outcome (of each case's latest decided round)
    and status, the auto-approval rate."""
    by_outcome = dict(
        session.execute(
            select(DecisionRow.outcome, func.count()).where(latest_round_only()).group_by(DecisionRow.outcome)
        ).all()
    )
    by_status = dict(session.execute(select(CaseRow.status, func.count()).group_by(CaseRow.status)).all())
    decided = sum(by_outcome.values())
    done = session.execute(
        select(TaskRow.decided_at, TaskRow.due_at).where(TaskRow.status == "done", TaskRow.kind == "review")
    ).all()
    on_time = sum(1 for d, due in done if d is not None and d <= due)
    return {
        "cases_by_outcome": by_outcome,
        "cases_by_status": by_status,
        "auto_approval_rate": (by_outcome.get("approved", 0) / decided) if decided else 0.0,
        "reviews_done": len(done),
        "reviews_on_time": on_time,
    }


def recent_decisions(
    session: Session, *, limit: int = 10_000
) -> list[tuple[datetime, datetime | None, float]]:
    """(received, decided, engine ms) of the latest decisions, newest first."""
    rows = session.execute(
        select(CaseRow.received_at, CaseRow.decided_at, DecisionRow.elapsed_ms)
        .join(DecisionRow, DecisionRow.case_id == CaseRow.id)
        .order_by(DecisionRow.id.desc())
        .limit(limit)
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def published_versions(session: Session) -> int:
    """The number of ruleset versions (the database answers when this does)."""
    session.execute(text("select 1"))
    return session.scalar(select(func.count()).select_from(RulesetVersion)) or 0
