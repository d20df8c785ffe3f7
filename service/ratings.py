"""好差评: the applicant's rating of a case once it has ended, the summary per item and department for
the staff pages and /metrics, and the follow-up a bad rating opens in the department's queue.

Rules:

- only the case's own applicant rates it (any other role: 403; another applicant's case is not found,
  as every case look-up answers: its existence is not leaked);
- only a case that has ended: decided with an outcome approved or rejected (or revoked after a
  post-check), or whose review task an approver has decided. A case still queued, being checked, in
  review or waiting for 补正 after the engine returned it is refused (409, with the reason in Chinese);
- one rating per case, never changed: a second is refused (409). Two ratings sent at once are held to
  this by the unique case_id of the table;
- five levels, 非常满意 (5) to 非常不满意 (1), and a comment of at most MAX_COMMENT characters
  (optional);
- a bad rating (不满意 or 非常不满意) opens a `follow_up` task for the case's department
  (service/review.py), due in settings.follow_up_days working days, which an approver closes with a
  comment;
- each rating is an audit event (`case.rated`), in the rating's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service import access, labels, review
from service.errors import Conflict, Forbidden, InvalidRequest, NotFound
from service.masking import mask_comment, mask_name
from service.review import IsoTime
from service.transactions import writing
from store import audit
from store.records import CaseRow, RatingRow, TaskRow, User

if TYPE_CHECKING:
    from service.container import Services

LEVELS: dict[str, tuple[int, str]] = {
    "very_satisfied": (5, "非常满意"),
    "satisfied": (4, "满意"),
    "basically_satisfied": (3, "基本满意"),
    "dissatisfied": (2, "不满意"),
    "very_dissatisfied": (1, "非常不满意"),
}
"""The five levels: code → (score, label)."""
LEVEL_OF_SCORE = {score: code for code, (score, _label) in LEVELS.items()}
LABEL_OF_SCORE = {score: lab for _code, (score, lab) in LEVELS.items()}
BAD_SCORES = frozenset({1, 2})
"""差评: 不满意 and 非常不满意 open a follow-up task."""
MAX_COMMENT = 500


class RatingView(BaseModel):
    """A rating as the API answers it."""

    case_id: str
    level: str
    level_label: str
    score: int
    comment: str
    rated_at: IsoTime
    rated_at_local: str
    follow_up: bool
    """Whether the rating opened a follow-up task (a bad rating)."""


class RatingState(BaseModel):
    """A case's rating, or whether the user may rate it now and why not."""

    case_id: str
    rated: bool
    can_rate: bool
    reason: str | None
    """Why the user cannot rate the case (in Chinese), when they cannot."""
    rating: RatingView | None


def _view(r: RatingRow) -> RatingView:
    return RatingView(
        case_id=r.case_id,
        level=LEVEL_OF_SCORE[r.score],
        level_label=LABEL_OF_SCORE[r.score],
        score=r.score,
        comment=r.comment,
        rated_at=r.rated_at,
        rated_at_local=labels.local_time(r.rated_at) or "",
        follow_up=r.follow_up_task is not None,
    )


def not_ended(session: Session, row: CaseRow) -> str | None:
    """Why the case has not ended (in Chinese), or None when it has and may be rated."""
    reviewed = session.scalar(
        select(func.count())
        .select_from(TaskRow)
        .where(TaskRow.case_id == row.id, TaskRow.kind == "review", TaskRow.status == "done")
    )
    if reviewed:
        return None
    if row.status == "decided" and row.outcome in ("approved", "rejected", "revoked"):
        return None
    return f"案件尚未办结（当前：{labels.progress_label(row.status, row.outcome)}），办结后方可评价"


def _rating_of(session: Session, case_id: str) -> RatingRow | None:
    return session.scalars(select(RatingRow).where(RatingRow.case_id == case_id)).first()


def _check_rater(user: User) -> None:
    if user.role != "applicant":
        raise Forbidden("只有案件的申请人本人可以评价")


def rate_case(
    services: Services, *, user: User, case_id: str, level: str, comment: str | None, now: datetime
) -> RatingView:
    """Record the applicant's rating of their ended case (see the module's rules)."""
    _check_rater(user)
    if not level:
        raise InvalidRequest("请选择评价等级", problems=[{"path": "level", "message": "未选择"}])
    if level not in LEVELS:
        raise InvalidRequest(
            "评价等级只能是非常满意、满意、基本满意、不满意、非常不满意之一",
            problems=[{"path": "level", "message": f"不支持 {level!r}"}],
        )
    text = (comment or "").strip()
    if len(text) > MAX_COMMENT:
        raise InvalidRequest(
            f"评价内容过长（不超过 {MAX_COMMENT} 字）",
            problems=[{"path": "comment", "message": f"不超过 {MAX_COMMENT} 字"}],
        )
    score = LEVELS[level][0]
    try:
        with writing(services) as session:
            row = access.check_case(user, session.get(CaseRow, case_id), case_id)
            if row.submitted_by != user.id:  # can_see says the same for an applicant; kept explicit
                raise Forbidden("只有案件的申请人本人可以评价")
            if _rating_of(session, row.id) is not None:
                raise Conflict("该案件已评价，每件案件只能评价一次")
            why = not_ended(session, row)
            if why is not None:
                raise Conflict(why)
            rating = RatingRow(
                case_id=row.id,
                item=row.item,
                department=row.department,
                rated_by=user.id,
                score=score,
                comment=text,
                rated_at=now,
            )
            session.add(rating)
            session.flush()
            if score in BAD_SCORES:
                task = review.open_follow_up(services, session, row=row, rating=score, now=now)
                rating.follow_up_task = task.id
            audit.append(
                session,
                key=services.audit_key.secret,
                actor=user.id,
                action="case.rated",
                subject=row.id,
                at=now,
                detail={
                    "score": score,
                    "level": level,
                    "comment": text,
                    "follow_up_task": rating.follow_up_task,
                },
            )
            session.flush()
            view = _view(rating)
    except IntegrityError as exc:  # a concurrent rating of the same case won
        raise Conflict("该案件已评价，每件案件只能评价一次") from exc
    return view


def rating_state(session: Session, *, user: User, case_id: str) -> RatingState:
    """The case's rating for anyone who may see the case (404 otherwise), and whether this user may
    rate it now."""
    row = access.check_case(user, session.get(CaseRow, case_id), case_id)
    rating = _rating_of(session, row.id)
    reason: str | None
    if rating is not None:
        reason = "该案件已评价"
    elif user.role != "applicant" or row.submitted_by != user.id:
        reason = "只有案件的申请人本人可以评价"
    else:
        reason = not_ended(session, row)
    return RatingState(
        case_id=row.id,
        rated=rating is not None,
        can_rate=reason is None,
        reason=reason,
        rating=_view(rating) if rating is not None else None,
    )


# -- summaries ---------------------------------------------------------------------------------------
@dataclass
class RatingSummary:
    """The ratings of one item of one department (or of a whole department: item None)."""

    department: str
    item: str | None
    total: int = 0
    by_level: dict[str, int] = field(default_factory=lambda: {lab: 0 for _s, lab in LEVELS.values()})
    """Count per level label, 非常满意 first."""
    score_sum: int = 0
    bad: int = 0
    """不满意 and 非常不满意."""

    @property
    def average(self) -> float:
        return self.score_sum / self.total if self.total else 0.0

    @property
    def satisfied_ratio(self) -> float:
        """Share of ratings 基本满意 or better (满意率, 好评)."""
        return (self.total - self.bad) / self.total if self.total else 0.0

    @property
    def bad_ratio(self) -> float:
        """Share of 差评 (不满意 and 非常不满意)."""
        return self.bad / self.total if self.total else 0.0

    def add(self, score: int, count: int) -> None:
        self.total += count
        self.score_sum += score * count
        self.by_level[LABEL_OF_SCORE[score]] += count
        if score in BAD_SCORES:
            self.bad += count


def counts(session: Session) -> list[tuple[str, str, int, int]]:
    """(item, department, score, count) of every rating, for /metrics (not scoped to a user)."""
    rows = session.execute(
        select(RatingRow.item, RatingRow.department, RatingRow.score, func.count())
        .group_by(RatingRow.item, RatingRow.department, RatingRow.score)
        .order_by(RatingRow.department, RatingRow.item, RatingRow.score)
    ).all()
    return [(str(i), str(d), int(s), int(n)) for i, d, s, n in rows]


def summary(session: Session, *, user: User, by: str = "item") -> list[RatingSummary]:
    """The ratings per item (`by="item"`, each within its department) or per department
    (`by="department"`) for the staff pages: an approver sees their own department's, auditors and
    admins every department's."""
    access.require(user, *access.TASK_READERS)
    if by not in ("item", "department"):
        raise InvalidRequest("by 只能是 item 或 department", problems=[{"path": "by", "message": by}])
    department = access.queue_department(user)
    out: dict[tuple[str, str | None], RatingSummary] = {}
    for item, dept, score, n in counts(session):
        if department is not None and dept != department:
            continue
        key = (dept, item if by == "item" else None)
        entry = out.setdefault(key, RatingSummary(department=dept, item=key[1]))
        entry.add(score, n)
    return list(out.values())


def item_names(services: Services, session: Session, items: set[str], *, now: datetime) -> dict[str, str]:
    """The items' names (of the ruleset in force), the item id when it has none."""
    out = {}
    for item in sorted(items):
        rs = services.rulesets.in_force(session, item=item, at=now)
        out[item] = rs.item.name if rs else item
    return out


# -- follow-ups of bad ratings ------------------------------------------------------------------------
@dataclass(frozen=True)
class FollowUp:
    """A line of the 差评回访 queue: the task, its case's item, the rating's level and comment (masked:
    ID numbers, phone numbers and the applicant's name)."""

    task: review.TaskView
    item: str
    item_name: str
    applicant: str
    """Masked."""
    level_label: str
    score: int
    comment: str
    """Masked."""
    rated_at: datetime


def follow_ups(
    services: Services, session: Session, *, user: User, now: datetime, include_done: bool = False
) -> list[FollowUp]:
    """The follow-up tasks of the user's department (all departments for auditors and admins), red
    cards first, each with the rating that opened it."""
    tasks = review.list_tasks(session, user=user, now=now, kind="follow_up", include_done=include_done)
    by_task = {
        r.follow_up_task: r
        for r in session.scalars(select(RatingRow).where(RatingRow.follow_up_task.in_([t.id for t in tasks])))
    }
    names = item_names(services, session, {r.item for r in by_task.values()}, now=now)
    cases = {
        c.id: c for c in session.scalars(select(CaseRow).where(CaseRow.id.in_([t.case_id for t in tasks])))
    }
    out = []
    for t in tasks:
        rating = by_task.get(t.id)
        case = cases.get(t.case_id)
        if rating is None or case is None:
            continue
        applicant = case.payload.get("applicant", {}) if isinstance(case.payload, dict) else {}
        name = str(applicant.get("name", ""))
        out.append(
            FollowUp(
                task=review.task_view(t, now=now),
                item=rating.item,
                item_name=names.get(rating.item, rating.item),
                applicant=mask_name(name),
                level_label=LABEL_OF_SCORE[rating.score],
                score=rating.score,
                comment=mask_comment(rating.comment, names=[name]),
                rated_at=rating.rated_at,
            )
        )
    return out


def close_follow_up(services: Services, *, user: User, task_id: int, note: str, now: datetime) -> TaskRow:
    """Close a follow-up task with the approver's note on what was done: the task is claimed first when
    the approver has not claimed it (an idle claim of another taken over as for any task), then decided
    `close`; both steps are audited as every task action is (task.claimed, task.decided.follow_up)."""
    access.require(user, *access.DECIDERS)
    with services.sessions() as session:
        task = access.check_task(user, session.get(TaskRow, task_id), task_id)
        kind, status, claimed_by = task.kind, task.status, task.claimed_by
    if kind != "follow_up":
        raise NotFound(f"没有编号为 {task_id} 的回访任务")
    if status == "done":
        raise Conflict("该回访任务已办结")
    if not (note or "").strip():
        raise InvalidRequest("请填写回访处理情况", problems=[{"path": "comment", "message": "不能为空"}])
    if not (status == "claimed" and claimed_by == user.id):
        review.claim_task(services, user=user, task_id=task_id, now=now)
    return review.decide_task(services, user=user, task_id=task_id, outcome="close", comment=note, now=now)
