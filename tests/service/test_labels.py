"""Chinese labels of the status codes and Beijing times in the JSON API (service/labels.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from service_kit import Env, auth, decide_all, submit

from service import labels


def test_progress_labels_follow_status_and_outcome() -> None:
    table = {
        ("queued", None): "已受理",
        ("processing", None): "审查中",
        ("failed", None): "人工审核中",
        ("decided", "review"): "人工审核中",
        ("decided", "returned"): "待补正",
        ("decided", "approved"): "已办结（准予）",
        ("decided", "rejected"): "已办结（不予）",
        ("decided", "revoked"): "已撤销",
    }
    for (status, outcome), want in table.items():
        assert labels.progress_label(status, outcome) == want, (status, outcome)
    assert labels.label(labels.CASE_STATUS_LABELS, "decided") == "已办结"
    assert labels.label(labels.OUTCOME_LABELS, None) is None
    assert labels.label(labels.OUTCOME_LABELS, "something-new") == "something-new"


def test_local_time_is_beijing_time() -> None:
    at = datetime(2026, 3, 1, 17, 30, tzinfo=UTC)
    assert labels.local_time(at) == "2026-03-02T01:30:00+08:00"
    assert labels.local_time(None) is None


def test_case_answers_carry_labels_and_beijing_times(env: Env, client: TestClient) -> None:
    submit(env, "dt-01-only-home-small")
    submit(env, "dt-22-name-mismatch")
    decide_all(env)
    view = client.get("/api/v1/cases/dt-01-only-home-small", headers=auth("applicant")).json()
    assert view["status"] == "decided" and view["status_label"] == "已办结"
    assert view["outcome"] == "approved" and view["outcome_label"] == "准予"
    assert view["progress_label"] == "已办结（准予）"
    received = datetime.fromisoformat(view["received_at"])
    local = datetime.fromisoformat(view["received_at_local"])
    assert view["received_at_local"].endswith("+08:00") and local == received
    assert view["decided_at_local"].endswith("+08:00")
    assert view["results"][0]["kind_label"] == "准予文书"
    assert view["results"][0]["issued_at_local"].endswith("+08:00")
    listed = client.get("/api/v1/cases", headers=auth("applicant")).json()
    by_id = {c["case_id"]: c for c in listed}
    assert by_id["dt-22-name-mismatch"]["progress_label"] == "人工审核中"
    assert by_id["dt-22-name-mismatch"]["received_at_local"].endswith("+08:00")
    tasks = client.get("/api/v1/tasks", headers=auth("approver")).json()["tasks"]
    assert tasks[0]["kind_label"] == "人工审核" and tasks[0]["status_label"] == "待认领"
    assert tasks[0]["due_at_local"].endswith("+08:00") and tasks[0]["outcome_label"] is None
