"""HTTP request and response bodies (kept apart from the domain models and the tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseAccepted(BaseModel):
    case_id: str
    status: str
    outcome: str | None = None
    created: bool = Field(description="false when an earlier submission with the same key was returned")
    links: dict[str, str]


class CaseSummary(BaseModel):
    case_id: str
    item: str
    applicant: str = Field(description="申请人（已脱敏）")
    status: str
    outcome: str | None
    received_at: datetime
    decided_at: datetime | None


class TaskOut(BaseModel):
    id: int
    case_id: str
    kind: str
    department: str
    status: str
    due_at: str
    card: str | None
    official_calendar: bool
    claimed_by: str | None
    claimed_at: str | None
    outcome: str | None
    comment: str | None
    decided_by: str | None
    decided_at: str | None
    applicant: str | None = Field(default=None, description="申请人（已脱敏）")
    item: str | None = None


class TaskList(BaseModel):
    tasks: list[TaskOut]
    counts: dict[str, int] = Field(description="未办结任务按红黄绿牌计数")


class DecideIn(_In):
    outcome: Literal["approve", "reject", "return", "confirm", "revoke"]
    comment: str = Field(min_length=1, max_length=2000, description="审批意见（必填）")


class PublishIn(_In):
    content: str = Field(min_length=1, max_length=500_000, description="规则集 YAML 全文")
    effective_from: datetime | None = Field(default=None, description="生效时间（带时区）；缺省为立即生效")


class VersionOut(BaseModel):
    item: str
    version: str
    sha256: str
    status: str
    effective_from: datetime


class VerifyOut(BaseModel):
    genuine: bool
    valid: bool
    status: str
    kind: str
    title: str
    issued_at: str
    grants: dict[str, Any]


class Health(BaseModel):
    status: Literal["ok"]
    database: str
    workers: int
    rulesets: int


class AuditReport(BaseModel):
    events: int
    ok: bool
    broken_at: int | None
    problem: str | None
    checkpoints: int = 0
