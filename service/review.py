"""The review queue: tasks opened for a person (review after the engine, 事后核查 after an approval on
commitment), the department's queue, claiming (with take-over of an idle claim: AB岗), releasing and the
approver's decision, which is kept beside the engine's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, PlainSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.case import CHINA_TZ
from engine.decision import Decision, Reason
from engine.program import Program
from service import access, labels, result_pdf, sla
from service.errors import Conflict, InvalidRequest
from service.masking import mask_name
from service.records import latest_decision
from service.results import issue_result
from service.rulesets import active_version
from service.transactions import SYSTEM, changed, writing
from store import audit
from store.records import CaseRow, ResultRow, RulesetVersion, TaskRow, User

if TYPE_CHECKING:
    from service.container import Services

REVIEW_OUTCOMES = {"approve": "approved", "reject": "rejected", "return": "returned"}
POST_CHECK_OUTCOMES = {"confirm": "confirmed", "revoke": "revoked"}
FOLLOW_UP_OUTCOMES = {"close": "closed"}
"""A follow-up of a bad rating is closed with the approver's comment on what was done."""
TASK_OUTCOMES = {
    "review": REVIEW_OUTCOMES,
    "post_check": POST_CHECK_OUTCOMES,
    "follow_up": FOLLOW_UP_OUTCOMES,
}
QUEUE_KINDS = tuple(TASK_OUTCOMES)

IsoTime = Annotated[datetime, PlainSerializer(lambda d: d.isoformat(), return_type=str)]
"""An instant, serialised as `datetime.isoformat()` (the JSON the API has always sent)."""


class TaskView(BaseModel):
    """A task as the API and the pages show it."""

    id: int
    case_id: str
    kind: str
    round: int
    """The case's round the task belongs to (1, then 2 after a first 补正, ...)."""
    department: str
    status: str
    due_at: IsoTime
    card: str | None
    official_calendar: bool
    claimed_by: str | None
    claimed_at: IsoTime | None
    outcome: str | None
    comment: str | None
    decided_by: str | None
    decided_at: IsoTime | None
    kind_label: str
    status_label: str
    outcome_label: str | None
    due_at_local: str
    claimed_at_local: str | None
    decided_at_local: str | None
    """The labels and Beijing times of service/labels.py."""


class TaskSummary(TaskView):
    """A task with its case's item and the applicant's masked name."""

    applicant: str | None
    item: str | None


def open_task(
    services: Services, session: Session, *, row: CaseRow, kind: str, program: Program, now: datetime
) -> TaskRow:
    days = program.ruleset.item.time_limit_days if kind == "review" else services.settings.post_check_days
    due = sla.compute_due(row.received_at, days)
    task = TaskRow(
        case_id=row.id,
        kind=kind,
        round=row.round,
        department=row.department,
        status="open",
        created_at=now,
        due_at=due.at,
        official_calendar=due.official,
        version=0,
    )
    session.add(task)
    session.flush()
    audit.append(
        session,
        key=services.audit_key.secret,
        actor=SYSTEM,
        action=f"task.opened.{kind}",
        subject=row.id,
        at=now,
        detail={"task": task.id, "due_at": due.at.isoformat()},
    )
    return task


def open_follow_up(
    services: Services, session: Session, *, row: CaseRow, rating: int, now: datetime
) -> TaskRow:
    """A follow-up task for the case's department after a bad rating (service/ratings.py), due in
    settings.follow_up_days working days from the rating."""
    due = sla.compute_due(now, services.settings.follow_up_days)
    task = TaskRow(
        case_id=row.id,
        kind="follow_up",
        department=row.department,
        status="open",
        created_at=now,
        due_at=due.at,
        official_calendar=due.official,
        version=0,
    )
    session.add(task)
    session.flush()
    audit.append(
        session,
        key=services.audit_key.secret,
        actor=SYSTEM,
        action="task.opened.follow_up",
        subject=row.id,
        at=now,
        detail={"task": task.id, "due_at": due.at.isoformat(), "rating": rating},
    )
    return task


def task_view(task: TaskRow, *, now: datetime) -> TaskView:
    return TaskView(
        id=task.id,
        case_id=task.case_id,
        kind=task.kind,
        round=task.round,
        department=task.department,
        status=task.status,
        due_at=task.due_at,
        card=sla.card(task.due_at, now) if task.status != "done" else None,
        official_calendar=task.official_calendar,
        claimed_by=task.claimed_by,
        claimed_at=task.claimed_at,
        outcome=task.outcome,
        comment=task.comment,
        decided_by=task.decided_by,
        decided_at=task.decided_at,
        kind_label=labels.label(labels.TASK_KIND_LABELS, task.kind) or task.kind,
        status_label=labels.label(labels.TASK_STATUS_LABELS, task.status) or task.status,
        outcome_label=labels.label(labels.OUTCOME_LABELS, task.outcome),
        due_at_local=labels.local_time(task.due_at) or "",
        claimed_at_local=labels.local_time(task.claimed_at),
        decided_at_local=labels.local_time(task.decided_at),
    )


def task_summary(session: Session, task: TaskRow, *, now: datetime) -> TaskSummary:
    row = session.get(CaseRow, task.case_id)
    applicant = mask_name(str(row.payload.get("applicant", {}).get("name", ""))) if row else None
    return TaskSummary(**dict(task_view(task, now=now)), applicant=applicant, item=row.item if row else None)


@dataclass(frozen=True)
class QueueEntry:
    """A line of the review or post-check queue."""

    task: TaskView
    item_name: str
    applicant: str
    """Masked."""
    received_at: datetime


def queue(
    services: Services, session: Session, *, user: User, now: datetime, kind: str, card: str | None
) -> list[QueueEntry]:
    """The user's queue of `kind` (as `list_tasks`), each task with its case's item and applicant."""
    entries = []
    names: dict[str, str] = {}
    for t in list_tasks(session, user=user, now=now, kind=kind, card=card):
        case = session.get(CaseRow, t.case_id)
        if case is None:
            continue
        if case.item not in names:
            rs = services.rulesets.in_force(session, item=case.item, at=now)
            names[case.item] = rs.item.name if rs else case.item
        applicant = case.payload.get("applicant", {}) if isinstance(case.payload, dict) else {}
        entries.append(
            QueueEntry(
                task=task_view(t, now=now),
                item_name=names[case.item],
                applicant=mask_name(str(applicant.get("name", ""))),
                received_at=case.received_at,
            )
        )
    return entries


def visible_task_case(session: Session, *, user: User, task_id: int) -> str | None:
    """The case of a task the user may see, or None."""
    task = session.get(TaskRow, task_id)
    return task.case_id if task is not None and access.can_see_task(user, task) else None


def case_tasks(session: Session, *, case_id: str) -> list[TaskRow]:
    return list(session.scalars(select(TaskRow).where(TaskRow.case_id == case_id).order_by(TaskRow.id)))


CARD_ORDER = {"red": 0, "yellow": 1, "green": 2}


def list_tasks(
    session: Session,
    *,
    user: User,
    now: datetime,
    kind: str = "review",
    department: str | None = None,
    card: str | None = None,
    include_done: bool = False,
) -> list[TaskRow]:
    """Tasks of a department: red cards first, then by due date."""
    access.require(user, *access.TASK_READERS)
    if kind not in QUEUE_KINDS:
        raise InvalidRequest(
            "kind 只能是 review、post_check 或 follow_up", problems=[{"path": "kind", "message": kind}]
        )
    if card is not None and card not in CARD_ORDER:
        raise InvalidRequest("card 只能是 red、yellow 或 green", problems=[{"path": "card", "message": card}])
    department = access.task_department(user, department)
    q = select(TaskRow).where(TaskRow.kind == kind)
    if department is not None:
        q = q.where(TaskRow.department == department)
    if not include_done:
        q = q.where(TaskRow.status != "done")
    tasks = list(session.scalars(q.order_by(TaskRow.due_at, TaskRow.id)))
    if card is not None:
        tasks = [t for t in tasks if t.status != "done" and sla.card(t.due_at, now) == card]
    tasks.sort(
        key=lambda t: (0 if t.status != "done" and sla.card(t.due_at, now) == "red" else 1, t.due_at, t.id)
    )
    return tasks


def queue_counts(session: Session, *, department: str | None, now: datetime) -> dict[str, dict[str, int]]:
    q = select(TaskRow.kind, TaskRow.due_at).where(TaskRow.status != "done")
    if department is not None:
        q = q.where(TaskRow.department == department)
    counts: dict[str, dict[str, int]] = {}
    for kind, due in session.execute(q):
        bucket = counts.setdefault(kind, {"red": 0, "yellow": 0, "green": 0})
        bucket[sla.card(due, now)] += 1
    return counts


def _task_for(session: Session, *, user: User, task_id: int) -> TaskRow:
    return access.check_task(user, session.get(TaskRow, task_id), task_id)


def claim_task(services: Services, *, user: User, task_id: int, now: datetime) -> TaskRow:
    """Claim a task. Exactly one of two concurrent claims wins (compare-and-set on the version); a claim
    idle longer than the setting may be taken over by another approver of the department (AB岗)."""
    idle = timedelta(minutes=services.settings.claim_idle_minutes)
    with writing(services) as session:
        task = _task_for(session, user=user, task_id=task_id)
        if task.status == "done":
            raise Conflict("任务已办结")
        previous = task.claimed_by
        if task.status == "claimed" and previous != user.id:
            last = task.last_activity_at or task.claimed_at or now
            if last > now - idle:
                raise Conflict(f"任务已由 {previous} 认领", claimed_by=previous)
        _set_task(
            session,
            task,
            "任务刚被他人认领，请刷新",
            status="claimed",
            claimed_by=user.id,
            claimed_at=now,
            last_activity_at=now,
        )
        # `task` already shows the new state here (the ORM update synchronises it): decide by `previous`
        action = "task.taken_over" if previous not in (None, user.id) else "task.claimed"
        audit.append(
            session,
            key=services.audit_key.secret,
            actor=user.id,
            action=action,
            subject=task.case_id,
            at=now,
            detail={"task": task_id, "previous": previous},
        )
    return _reload_task(services, task_id)


def _set_task(session: Session, task: TaskRow, conflict: str, **values: Any) -> None:
    """Compare-and-set on the task's version: exactly one of two concurrent changes wins; the other
    gets a Conflict with `conflict` as its message."""
    took = changed(
        session,
        update(TaskRow)
        .where(TaskRow.id == task.id, TaskRow.version == task.version)
        .values(**values, version=task.version + 1),
    )
    if took != 1:
        raise Conflict(conflict)


def _reload_task(services: Services, task_id: int) -> TaskRow:
    with services.sessions() as session:
        fresh = session.get(TaskRow, task_id)
        assert fresh is not None
        return fresh


def release_task(services: Services, *, user: User, task_id: int, now: datetime) -> TaskRow:
    with writing(services) as session:
        task = _task_for(session, user=user, task_id=task_id)
        if task.status != "claimed" or task.claimed_by != user.id:
            raise Conflict("只能释放自己认领的任务")
        _set_task(
            session,
            task,
            "任务状态已变化，请刷新",
            status="open",
            claimed_by=None,
            claimed_at=None,
            last_activity_at=now,
        )
        audit.append(
            session,
            key=services.audit_key.secret,
            actor=user.id,
            action="task.released",
            subject=task.case_id,
            at=now,
            detail={"task": task_id},
        )
    return _reload_task(services, task_id)


def decide_task(
    services: Services, *, user: User, task_id: int, outcome: str, comment: str, now: datetime
) -> TaskRow:
    """The approver's decision, kept beside the engine's. Review: approve / reject / return (a result is
    issued at once); post-check: confirm / revoke (revoking withdraws the issued result); follow-up of a
    bad rating: close (the comment says what was done; the case is left as it is)."""
    if not outcome:
        raise InvalidRequest("请选择处理结果", problems=[{"path": "outcome", "message": "未选择"}])
    comment = (comment or "").strip()
    if not comment:
        raise InvalidRequest("审批意见为必填项", problems=[{"path": "comment", "message": "不能为空"}])
    if len(comment) > 2000:
        raise InvalidRequest("审批意见过长", problems=[{"path": "comment", "message": "不超过 2000 字"}])
    with writing(services) as session:
        task = _task_for(session, user=user, task_id=task_id)
        allowed = TASK_OUTCOMES.get(task.kind, POST_CHECK_OUTCOMES)
        if outcome not in allowed:
            raise InvalidRequest(
                f"处理结果只能是 {'、'.join(allowed)}",
                problems=[{"path": "outcome", "message": f"不支持 {outcome!r}"}],
            )
        if task.status == "done":
            raise Conflict("任务已办结")
        if task.status != "claimed" or task.claimed_by != user.id:
            raise Conflict("请先认领任务再作出决定")
        _set_task(
            session,
            task,
            "任务状态已变化，请刷新",
            status="done",
            outcome=allowed[outcome],
            comment=comment,
            decided_by=user.id,
            decided_at=now,
            last_activity_at=now,
        )
        row = session.get(CaseRow, task.case_id)
        assert row is not None
        audit.append(
            session,
            key=services.audit_key.secret,
            actor=user.id,
            action=f"task.decided.{task.kind}",
            subject=row.id,
            at=now,
            detail={"task": task_id, "outcome": allowed[outcome], "comment": comment},
        )
        if task.kind == "review":
            row.outcome = allowed[outcome]
            engine = latest_decision(session, row.id)
            engine_json = engine.decision if engine is not None else None
            # the result is rendered under the version the engine decided with, even when it has since
            # been rolled back (the version in force at receipt would then be another one)
            recorded = (
                session.scalars(
                    select(RulesetVersion).where(RulesetVersion.sha256 == engine.ruleset_sha256)
                ).first()
                if engine is not None
                else None
            )
            version = recorded or active_version(session, item=row.item, at=row.received_at)
            program = services.rulesets.program_for(version)
            decision = _human_decision(
                program, row=row, engine_json=engine_json, outcome=allowed[outcome], comment=comment, now=now
            )
            issue_result(
                services, session, row=row, program=program, decision=decision, now=now, review=comment
            )
        elif task.kind == "post_check" and outcome == "revoke":
            for res in session.scalars(
                select(ResultRow).where(ResultRow.case_id == row.id, ResultRow.revoked.is_(False))
            ):
                res.revoked = True
            row.outcome = "revoked"
            audit.append(
                session,
                key=services.audit_key.secret,
                actor=user.id,
                action="result.revoked",
                subject=row.id,
                at=now,
                detail={"comment": comment},
            )
    return _reload_task(services, task_id)


def _human_decision(
    program: Program,
    *,
    row: CaseRow,
    engine_json: dict[str, Any] | None,
    outcome: str,
    comment: str,
    now: datetime,
) -> Decision:
    """The decision a result document is rendered from after review: the engine's evaluation with the
    approver's outcome; a refusal or a return carries the approver's comment as its reason."""
    if engine_json is None:  # the engine never decided (system failure): a bare decision with the comment
        engine_json = {
            "case_id": row.id,
            "item": row.item,
            "ruleset": {"id": program.item, "version": program.ruleset.version, "sha256": program.sha256},
            "outcome": "review",
            "outputs": {},
            "conditions": [],
            "reasons": [],
            "missing_materials": [],
            "materials": [],
            "decided_at": now.isoformat(),
        }
    decision = Decision.model_validate(engine_json)
    update_: dict[str, Any] = {"outcome": outcome, "decided_at": now.astimezone(CHINA_TZ).isoformat()}
    if outcome != "approved":
        update_["reasons"] = [
            *decision.reasons,
            Reason(condition=result_pdf.REVIEWER, status="fail", message=comment),
        ]
    return decision.model_copy(update=update_)
