"""HTTP request and response bodies (kept apart from the domain models and the tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.json_schema import SkipJsonSchema, models_json_schema

from engine.case import Case
from engine.decision import Decision
from service.disclosure import ApplicantDecision
from service.ratings import MAX_COMMENT

REF = "#/components/schemas/{model}"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _absent_when_none(schema: dict[str, Any]) -> None:
    """A field that is left out rather than null: no `default: null` beside its type."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class ProblemItem(BaseModel):
    """One problem of a request, where it is."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_absent_when_none)

    path: str | SkipJsonSchema[None] = Field(
        default=None, description="出错的位置，如 form.area_m2；空串指整个请求"
    )
    message: str


class Problem(BaseModel):
    """An error answer (RFC 9457 problem details, `application/problem+json`), as api/problems.py writes
    it. Some errors add fields of their own (e.g. `claimed_by` of a task another approver holds)."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_absent_when_none)

    type: str = Field(description="问题类型的 URI，以 code 结尾")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    code: str = Field(description="稳定的错误代码")
    instance: str | SkipJsonSchema[None] = Field(default=None, description="出错的请求路径")
    problems: list[ProblemItem] | SkipJsonSchema[None] = Field(
        default=None, description="逐项列出的问题（一次性告知）"
    )
    suggestion: str | SkipJsonSchema[None] = Field(default=None, description="修改建议")


def components() -> dict[str, Any]:
    """The schemas that operations refer to by name without FastAPI deriving them from a route's types:
    the problem body of every error, and the case a submission or pre-check sends (its body is read as
    plain JSON and validated by the use case, which reports every problem at once)."""
    _, top = models_json_schema([(Problem, "serialization"), (Case, "validation")], ref_template=REF)
    defs: dict[str, Any] = top["$defs"]
    return defs


def ref(model: type[BaseModel]) -> dict[str, str]:
    """A reference to one of `components()`."""
    return {"$ref": REF.format(model=model.__name__)}


class CaseAccepted(BaseModel):
    case_id: str
    status: str
    status_label: str = Field(description="案件状态（中文）")
    outcome: str | None = None
    outcome_label: str | None = Field(default=None, description="结论（中文）")
    progress_label: str = Field(
        description="申请人看到的办理进度：已受理、审查中、人工审核中、待补正、已办结（准予）等"
    )
    created: bool = Field(description="false when an earlier submission with the same key was returned")
    links: dict[str, str]


class PreCheckAnswer(RootModel[Decision | ApplicantDecision]):
    """The pre-check's decision: in full for rule authors and admins, the applicant's view for an
    applicant (other people's data masked; no expressions, values or sources)."""


class CaseSummary(BaseModel):
    case_id: str
    item: str
    applicant: str = Field(description="申请人（已脱敏）")
    status: str
    status_label: str = Field(description="案件状态（中文）")
    outcome: str | None
    outcome_label: str | None = Field(description="结论（中文）")
    progress_label: str = Field(description="申请人看到的办理进度（中文）")
    received_at: datetime
    received_at_local: str = Field(description="受理时间（北京时间，+08:00）")
    decided_at: datetime | None
    decided_at_local: str | None = Field(description="作出决定的时间（北京时间）")


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
    kind_label: str = Field(description="任务类型（中文）")
    status_label: str = Field(description="任务状态（中文）")
    outcome_label: str | None = Field(description="处理结果（中文）")
    due_at_local: str = Field(description="到期时间（北京时间，+08:00）")
    claimed_at_local: str | None = Field(description="认领时间（北京时间）")
    decided_at_local: str | None = Field(description="办结时间（北京时间）")
    applicant: str | None = Field(default=None, description="申请人（已脱敏）")
    item: str | None = None


class TaskList(BaseModel):
    tasks: list[TaskOut]
    counts: dict[str, int] = Field(description="未办结任务按红黄绿牌计数")


class DecideIn(_In):
    outcome: Literal["approve", "reject", "return", "confirm", "revoke", "close"] = Field(
        description="审核：approve、reject、return；事后核查：confirm、revoke；差评回访：close"
    )
    comment: str = Field(
        min_length=1,
        max_length=2000,
        description="审批意见（必填，不能只有空白）",
        # checked by the use case, whose message names the field in Chinese
        json_schema_extra={"pattern": r"\S"},
    )


class RatingIn(_In):
    level: Literal[
        "very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied"
    ] = Field(description="评价等级：非常满意、满意、基本满意、不满意、非常不满意")
    comment: str = Field(
        default="", max_length=MAX_COMMENT, description=f"评价内容（可选，不超过 {MAX_COMMENT} 字）"
    )


class PublishIn(_In):
    # at most 12 bytes a character in JSON (an escaped surrogate pair): within the 1 MiB body limit
    content: str = Field(min_length=1, max_length=80_000, description="规则集 YAML 全文")
    effective_from: datetime | None = Field(default=None, description="生效时间（带时区）；缺省为立即生效")


class VersionInfo(BaseModel):
    version: str
    sha256: str
    status: str
    effective_from: str = Field(description="生效时间（ISO 8601，带时区）")
    published_by: str
    published_at: str


class RulesetItem(BaseModel):
    item: str
    active: str | None = Field(description="现行版本；尚无生效版本时为 null")
    versions: list[VersionInfo]


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


class ImpactIn(_In):
    content: str = Field(min_length=1, max_length=80_000, description="候选规则集 YAML 全文")
    since: datetime | None = Field(default=None, description="只比较此时间（带时区）之后作出的决定")
    limit: int = Field(default=5000, ge=1, le=5000, description="最多比较最近多少件已记录的决定")


class ImpactOutcome(BaseModel):
    recorded: str = Field(description="记录的结论")
    candidate: str = Field(description="候选版本的结论（invalid：表单不符）")
    count: int
    cases: list[str] = Field(description="案件编号（至多 20 个）")


class ImpactExample(BaseModel):
    case: str
    recorded: Any
    candidate: Any


class ImpactOutput(BaseModel):
    output: str
    title: str
    changed: int
    cases: list[str]
    sum_recorded: str | None = Field(description="金额输出：改变的案件记录的合计")
    sum_candidate: str | None
    examples: list[ImpactExample]


class ImpactCondition(BaseModel):
    condition: str
    title: str
    recorded: str
    candidate: str
    count: int


class ImpactNotComparable(BaseModel):
    count: int
    cases: list[str]
    reasons: dict[str, int]


class ImpactOut(BaseModel):
    """What the candidate would have decided on the recorded decisions, beside what was decided."""

    item: str
    candidate: dict[str, str]
    since: str | None
    decisions: int
    compared: int
    outcome_changed: int
    outcomes: list[ImpactOutcome]
    outputs: list[ImpactOutput]
    conditions: list[ImpactCondition]
    not_comparable: ImpactNotComparable
    recorded_versions: dict[str, int]
    elapsed_s: float
