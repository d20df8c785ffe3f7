"""SQLAlchemy tables of the service: cases and their documents, decisions with the exact facts used,
review and post-check tasks, issued results, ruleset versions, users and the hash-chained audit trail.

The case table is the record of work: a case row is committed before the request is
acknowledged; a worker takes a lease on it (`status`, `lease_owner`, `lease_until`, `attempts`); the
decision row is unique per case, so a case is never decided twice whatever crashes in between.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    exists,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, aliased, mapped_column
from sqlalchemy.types import TypeDecorator

from store.tables import Base


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant stored as naive UTC on every backend, read back as aware UTC.

    SQLite keeps no offsets, so a value is normalised to UTC before it is written; naive values are
    refused rather than guessed."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


CASE_STATUSES = ("queued", "processing", "decided", "failed")
TASK_KINDS = ("review", "post_check", "follow_up")
TASK_STATUSES = ("open", "claimed", "done")
ROLES = ("applicant", "approver", "rule_author", "auditor", "admin")


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    department: Mapped[str | None] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sessions_valid_after: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    """Page sessions signed in before this time are no longer valid (signed out, or revoked)."""
    token_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    """The API token is refused from this time on (None: a token issued before tokens expired)."""
    subject_kind: Mapped[str | None] = mapped_column(String(20), default=None)
    """An applicant's subject: `person` or `enterprise` (None: not bound, and so unable to submit)."""
    subject_id: Mapped[str | None] = mapped_column(String(18), default=None)
    """The subject's ID number (a person) or unified social credit code (an enterprise)."""
    acting_id_number: Mapped[str | None] = mapped_column(String(18), default=None)
    """For an enterprise: the ID number of the person who acts for it through this account."""
    acting_as: Mapped[str | None] = mapped_column(String(30), default=None)
    """For an enterprise: `legal_representative` (the registry's 法定代表人) or `agent` (a person the
    enterprise authorised, not the registered 法定代表人; the authorisation is checked when the account
    is opened)."""


class RulesetVersion(Base):
    """A published ruleset: the exact YAML content by its hash, and from when it takes effect."""

    __tablename__ = "ruleset_versions"
    __table_args__ = (UniqueConstraint("item", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content: Mapped[str] = mapped_column(Text)
    effective_from: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(20), default="published")  # published | rolled_back
    published_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CaseRow(Base):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("submitted_by", "idempotency_key"),
        Index("ix_cases_work", "status", "lease_until"),
    )

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    item: Mapped[str] = mapped_column(String(64), index=True)
    department: Mapped[str] = mapped_column(String(100))
    submitted_by: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    outcome: Mapped[str | None] = mapped_column(String(20))
    """The case's current outcome: the engine's, then the approver's once a review task is decided."""
    engine_outcome: Mapped[str | None] = mapped_column(String(20))
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    commitment: Mapped[bool] = mapped_column(Boolean, default=False)
    round: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """1 for the submission, one more for each correction (补正) resubmitted on the same case."""
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class CaseDocument(Base):
    """An uploaded file, stored content-addressed on disk (the client's file name is never used)."""

    __tablename__ = "case_documents"
    __table_args__ = (UniqueConstraint("case_id", "ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    ref: Mapped[str] = mapped_column(String(500))
    """The document's `path` as the case JSON names it (a reference, not a file-system path)."""
    kind: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(100))


class ExtractionRow(Base):
    __tablename__ = "extractions"
    __table_args__ = (UniqueConstraint("case_id", "round", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    round: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    sha256: Mapped[str | None] = mapped_column(String(64))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)


class DecisionRow(Base):
    """The engine's decision, with everything needed to reproduce it: the ruleset by hash, the case,
    the registry rows read, the document facts and the clock."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("case_id", "round"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """The case's round this decision is of (one decision per case and round)."""
    item: Mapped[str] = mapped_column(String(64))
    ruleset_version: Mapped[str] = mapped_column(String(64))
    ruleset_sha256: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(20), index=True)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    decision: Mapped[dict[str, Any]] = mapped_column(JSON)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime())
    elapsed_ms: Mapped[float] = mapped_column(default=0.0)


def latest_round_only() -> Any:
    """A condition on `DecisionRow` keeping each case's decision of its latest decided round: a case
    corrected and resubmitted (补正) is decided once per round, and counts once."""
    later = aliased(DecisionRow)
    return ~exists().where(later.case_id == DecisionRow.case_id, later.round > DecisionRow.round)


class TaskRow(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("case_id", "kind", "round"),
        Index("ix_tasks_queue", "kind", "department", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    round: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """The case's round the task belongs to (a corrected case may be reviewed again)."""
    department: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    official_calendar: Mapped[bool] = mapped_column(Boolean, default=True)
    claimed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_activity_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    outcome: Mapped[str | None] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    version: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped on every change: claims and decisions are compare-and-set on it."""


class RatingRow(Base):
    """The applicant's 好差评 of a case that has ended: one per case (a second is refused), never
    changed. A bad rating (score 1 or 2) opens a follow-up task for the item's department."""

    __tablename__ = "ratings"
    __table_args__ = (Index("ix_ratings_item_department", "item", "department"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    item: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(100))
    rated_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    score: Mapped[int] = mapped_column(Integer)
    """5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意."""
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    follow_up_task: Mapped[int | None] = mapped_column(Integer, default=None)
    """The follow-up task a bad rating opened (tasks.id)."""


class ResultRow(Base):
    """An issued result document (approval, correction notice or refusal), found by its code."""

    __tablename__ = "results"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    grants: Mapped[dict[str, Any]] = mapped_column(JSON)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEvent(Base):
    """Append-only; `hash` = sha256(prev_hash + canonical JSON of the event), so an edited, deleted or
    reordered event breaks the chain at that point."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(200), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the last sequence number and hash. Updating it in the event's transaction serialises
    appends (a row lock on PostgreSQL, the write lock on SQLite). `signature` is the HMAC of seq and hash
    under the audit key (store/audit.py): without the key the head cannot be rewound or re-chained."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AuditCheckpoint(Base):
    """A signed record of the committed head at a time (seq, hash, HMAC under the audit key); the same
    line goes to the checkpoint file outside the database. Verification holds the chain to each one."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    signature: Mapped[str] = mapped_column(String(64))
