"""The approver's comment the applicant reads (service/disclosure.py): a return's or a refusal's, masked
as the decision is; other comments and the staff who handled a task stay internal."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from service_kit import AGENT_ID, Env, auth, decide_all, submit

from service.masking import mask_id

REVIEW = "dt-22-name-mismatch"


def _decide_review(client: TestClient, outcome: str, comment: str) -> None:
    [task] = client.get("/api/v1/tasks", headers=auth("approver")).json()["tasks"]
    assert client.post(f"/api/v1/tasks/{task['id']}/claim", headers=auth("approver")).status_code == 200
    r = client.post(
        f"/api/v1/tasks/{task['id']}/decide",
        json={"outcome": outcome, "comment": comment},
        headers=auth("approver"),
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("outcome", ["return", "reject"])
def test_a_return_or_refusal_comment_reaches_the_applicant_masked(
    env: Env, client: TestClient, outcome: str
) -> None:
    submit(env, REVIEW)
    decide_all(env)
    before = client.get(f"/api/v1/cases/{REVIEW}", headers=auth("applicant")).json()
    assert before["review_comment"] is None and before["tasks"][0]["comment"] is None
    comment = f"请补充与配偶（身份证号码 {AGENT_ID}）的结婚证，并核对买受人姓名"
    _decide_review(client, outcome, comment)
    view = client.get(f"/api/v1/cases/{REVIEW}", headers=auth("applicant")).json()
    masked = comment.replace(AGENT_ID, mask_id(AGENT_ID))
    assert view["review_comment"] == masked and AGENT_ID not in view["review_comment"]
    [task] = view["tasks"]
    assert task["comment"] == masked
    assert task["claimed_by"] is None and task["decided_by"] is None  # staff stay unnamed
    assert AGENT_ID not in client.get(f"/api/v1/cases/{REVIEW}", headers=auth("applicant")).text
    staff = client.get(f"/api/v1/cases/{REVIEW}", headers=auth("approver")).json()
    assert staff["tasks"][0]["comment"] == comment and staff["tasks"][0]["decided_by"] == "approver"
    assert staff["review_comment"] == masked  # the words the applicant reads


def test_an_approval_comment_and_a_follow_up_stay_internal(env: Env, client: TestClient) -> None:
    submit(env, REVIEW)
    decide_all(env)
    _decide_review(client, "approve", "内部备注：已电话核实，同意")
    view = client.get(f"/api/v1/cases/{REVIEW}", headers=auth("applicant")).json()
    assert view["outcome"] == "approved" and view["review_comment"] is None
    assert view["tasks"][0]["comment"] is None and view["tasks"][0]["outcome"] == "approved"
    rated = client.post(
        f"/api/v1/cases/{REVIEW}/rating", json={"level": "dissatisfied"}, headers=auth("applicant")
    )
    assert rated.status_code == 201, rated.text
    view = client.get(f"/api/v1/cases/{REVIEW}", headers=auth("applicant")).json()
    assert [t["kind"] for t in view["tasks"]] == ["review"]
    staff = client.get(f"/api/v1/cases/{REVIEW}", headers=auth("approver")).json()
    assert [t["kind"] for t in staff["tasks"]] == ["review", "follow_up"]
