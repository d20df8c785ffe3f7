"""The Chinese labels of the status codes the API answers, and instants in Beijing time: one mapping,
used by the JSON API (and meant for the pages).

A code is kept as it is beside its label (`"status": "decided", "status_label": "已办结"`), and UTC ISO
fields stay as they were; each instant also gets a `*_local` field in Beijing time (+08:00).

`progress_label` is the one label an applicant reads for where their case stands, from its status,
its outcome and whether a person has decided it (see `progress_label`).
"""

from __future__ import annotations

from datetime import datetime

from engine.case import CHINA_TZ

CASE_STATUS_LABELS = {
    "queued": "已受理",
    "processing": "审查中",
    "decided": "已办结",
    "failed": "转人工处理",
}
"""The case's processing status (`cases.status`)."""

OUTCOME_LABELS = {
    "approved": "准予",
    "review": "转人工审核",
    "returned": "退回补正",
    "rejected": "不予",
    "confirmed": "核查无误",
    "revoked": "已撤销",
    "closed": "已回访办结",
}
"""A case's, a decision's or a task's outcome."""

TASK_KIND_LABELS = {"review": "人工审核", "post_check": "事后核查", "follow_up": "差评回访整改"}
TASK_STATUS_LABELS = {"open": "待认领", "claimed": "办理中", "done": "已办结"}
RESULT_KIND_LABELS = {
    "approval": "准予文书",
    "correction_notice": "一次性告知单",
    "refusal_notice": "不予受理/不予许可通知",
}

PROGRESS_LABELS = {
    "received": "已受理",
    "checking": "审查中",
    "in_review": "人工审核中",
    "correction": "待补正",
    "approved": "已办结（准予）",
    "rejected": "已办结（不予）",
    "revoked": "已撤销",
}


def label(table: dict[str, str], code: str | None) -> str | None:
    """The label of a code (an unknown code is shown as itself; no code, no label)."""
    if code is None:
        return None
    return table.get(code, code)


def progress(status: str, outcome: str | None) -> str:
    """Where a case stands for its applicant, as a key of PROGRESS_LABELS.

    queued → received; processing → checking; failed (the system could not decide; a person will) and
    decided with outcome review (a person is reviewing) → in_review; returned → correction (待补正);
    approved / rejected → approved / rejected; revoked (withdrawn after a post-check) → revoked.
    An approver's decision replaces the outcome on the case, so the label follows it."""
    if status == "queued":
        return "received"
    if status == "processing":
        return "checking"
    if status == "failed" or outcome in (None, "review"):
        return "in_review"
    if outcome == "returned":
        return "correction"
    if outcome in ("approved", "rejected", "revoked"):
        return outcome
    return "in_review"


def progress_label(status: str, outcome: str | None) -> str:
    return PROGRESS_LABELS[progress(status, outcome)]


def local_time(at: datetime | None) -> str | None:
    """An instant in Beijing time, ISO 8601 with +08:00 (None stays None)."""
    return at.astimezone(CHINA_TZ).isoformat() if at is not None else None
