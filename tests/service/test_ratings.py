"""好差评 (service/ratings.py): only the case's own applicant rates, only an ended case, once; a bad
rating opens a follow-up task the department's approver closes; summaries and /metrics."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from service_kit import DEED_TAX_DEPT, Env, auth, decide_all, submit
from sqlalchemy import select

from service import ratings
from service.transactions import utcnow
from store.records import AuditEvent, RatingRow, TaskRow

APPROVED = "dt-01-only-home-small"
REVIEW = "dt-22-name-mismatch"


def _rate(client: TestClient, case_id: str, who: str = "applicant", **body: str) -> Any:
    return client.post(f"/api/v1/cases/{case_id}/rating", json=body, headers=auth(who))


def test_the_applicant_rates_an_ended_case_once(env: Env, client: TestClient) -> None:
    submit(env, APPROVED)
    decide_all(env)
    state = client.get(f"/api/v1/cases/{APPROVED}/rating", headers=auth("applicant")).json()
    assert state == {"case_id": APPROVED, "rated": False, "can_rate": True, "reason": None, "rating": None}
    staff = client.get(f"/api/v1/cases/{APPROVED}/rating", headers=auth("approver")).json()
    assert staff["can_rate"] is False and staff["reason"] == "只有案件的申请人本人可以评价"

    for who in ("approver", "admin", "auditor", "rule_author"):
        r = _rate(client, APPROVED, who, level="satisfied")
        assert r.status_code == 403, (who, r.text)
    other = _rate(client, APPROVED, "applicant2", level="satisfied")
    assert other.status_code == 404  # another's case is not found
    assert _rate(client, APPROVED, level="great").status_code == 422
    too_long = _rate(client, APPROVED, level="satisfied", comment="好" * (ratings.MAX_COMMENT + 1))
    assert too_long.status_code == 422

    r = _rate(client, APPROVED, level="very_satisfied", comment="  办理很快，一次都没跑  ")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["level"] == "very_satisfied" and body["level_label"] == "非常满意" and body["score"] == 5
    assert body["comment"] == "办理很快，一次都没跑" and body["follow_up"] is False
    assert body["rated_at_local"].endswith("+08:00")
    again = _rate(client, APPROVED, level="dissatisfied")
    assert again.status_code == 409
    assert "只能评价一次" in again.json()["detail"]
    state = client.get(f"/api/v1/cases/{APPROVED}/rating", headers=auth("applicant")).json()
    assert state["rated"] is True and state["can_rate"] is False and state["rating"]["score"] == 5
    assert client.get(f"/api/v1/cases/{APPROVED}/rating", headers=auth("applicant2")).status_code == 404
    with env.services.sessions() as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "case.rated")).all()
        assert event.actor == "applicant" and event.subject == APPROVED and event.detail["score"] == 5
        assert session.scalars(select(TaskRow).where(TaskRow.kind == "follow_up")).all() == []


def test_a_case_in_review_is_rated_only_once_the_review_is_done(env: Env, client: TestClient) -> None:
    submit(env, REVIEW)
    decide_all(env)
    r = _rate(client, REVIEW, level="satisfied")
    assert r.status_code == 409
    assert r.json()["detail"] == "案件尚未办结（当前：人工审核中），办结后方可评价"
    state = client.get(f"/api/v1/cases/{REVIEW}/rating", headers=auth("applicant")).json()
    assert state["can_rate"] is False and "尚未办结" in state["reason"]
    [task] = client.get("/api/v1/tasks", headers=auth("approver")).json()["tasks"]
    assert client.post(f"/api/v1/tasks/{task['id']}/claim", headers=auth("approver")).status_code == 200
    done = client.post(
        f"/api/v1/tasks/{task['id']}/decide",
        json={"outcome": "return", "comment": "请补充购房合同"},
        headers=auth("approver"),
    )
    assert done.status_code == 200, done.text
    assert _rate(client, REVIEW, level="basically_satisfied").status_code == 201


def test_a_bad_rating_opens_a_follow_up_the_approver_closes(env: Env, client: TestClient) -> None:
    submit(env, APPROVED)
    decide_all(env)
    r = _rate(client, APPROVED, level="very_dissatisfied", comment="窗口人员态度差")
    assert r.status_code == 201 and r.json()["follow_up"] is True
    queue = client.get("/api/v1/tasks", params={"kind": "follow_up"}, headers=auth("approver")).json()
    [task] = queue["tasks"]
    assert task["case_id"] == APPROVED and task["kind_label"] == "差评回访整改"
    assert task["department"] == DEED_TAX_DEPT and task["status"] == "open"
    assert queue["counts"]["red"] + queue["counts"]["yellow"] + queue["counts"]["green"] == 1
    # not another department's, not the review queue
    other = client.get("/api/v1/tasks", params={"kind": "follow_up"}, headers=auth("approver_sp")).json()
    assert other["tasks"] == []
    assert client.get("/api/v1/tasks", headers=auth("approver")).json()["tasks"] == []
    tid = task["id"]
    assert client.post(f"/api/v1/tasks/{tid}/claim", headers=auth("approver")).status_code == 200
    wrong = client.post(
        f"/api/v1/tasks/{tid}/decide", json={"outcome": "approve", "comment": "x"}, headers=auth("approver")
    )
    assert wrong.status_code == 422, wrong.text
    closed = client.post(
        f"/api/v1/tasks/{tid}/decide",
        json={"outcome": "close", "comment": "已电话回访申请人并致歉，窗口已整改"},
        headers=auth("approver"),
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "done" and closed.json()["outcome_label"] == "已回访办结"
    view = client.get(f"/api/v1/cases/{APPROVED}", headers=auth("admin")).json()
    assert view["outcome"] == "approved" and view["status"] == "decided"  # the case is left as it was
    with env.services.sessions() as session:
        actions = list(
            session.scalars(
                select(AuditEvent.action).where(AuditEvent.subject == APPROVED).order_by(AuditEvent.seq)
            )
        )
        assert actions[-4:] == [
            "task.opened.follow_up",
            "case.rated",
            "task.claimed",
            "task.decided.follow_up",
        ]
        assert session.scalars(select(RatingRow.follow_up_task)).one() == tid


def test_summaries_per_item_and_department_and_metrics(env: Env, client: TestClient) -> None:
    submit(env, APPROVED)
    submit(env, "sp-01-general-grade1-clean", user="applicant2")
    decide_all(env)
    assert _rate(client, APPROVED, level="dissatisfied").status_code == 201
    sp = _rate(client, "sp-01-general-grade1-clean", "applicant2", level="satisfied")
    assert sp.status_code == 201, sp.text
    with env.services.sessions() as session:
        everything = ratings.summary(session, user=env.users["admin"], by="item")
        mine = ratings.summary(session, user=env.users["approver"], by="department")
    by_item = {s.item: s for s in everything}
    assert set(by_item) == {"deed-tax", "safety-permit-renewal"}
    deed = by_item["deed-tax"]
    assert deed.department == DEED_TAX_DEPT and deed.total == 1 and deed.bad == 1
    assert deed.by_level["不满意"] == 1 and deed.average == 2.0 and deed.satisfied_ratio == 0.0
    assert by_item["safety-permit-renewal"].satisfied_ratio == 1.0
    [dept] = mine  # an approver: their own department only
    assert dept.department == DEED_TAX_DEPT and dept.item is None and dept.total == 1
    metrics = client.get("/metrics").text
    assert (
        f'miaopi_ratings{{department="{DEED_TAX_DEPT}",item="deed-tax",level="dissatisfied"}} 1.0' in metrics
    )
    assert f'miaopi_department_ratings{{department="{DEED_TAX_DEPT}",level="dissatisfied"}} 1.0' in metrics
    assert f'miaopi_department_satisfaction_ratio{{department="{DEED_TAX_DEPT}"}} 0.0' in metrics
    assert 'miaopi_queue_tasks{card="red",kind="follow_up"}' in metrics


def test_rate_case_refuses_in_the_service_as_the_api_does(env: Env) -> None:
    import pytest

    from service.errors import Conflict, Forbidden

    submit(env, REVIEW)
    decide_all(env)
    with pytest.raises(Forbidden):
        ratings.rate_case(
            env.services, user=env.users["admin"], case_id=REVIEW, level="satisfied", comment="", now=utcnow()
        )
    with pytest.raises(Conflict, match="人工审核中"):
        ratings.rate_case(
            env.services,
            user=env.users["applicant"],
            case_id=REVIEW,
            level="satisfied",
            comment="",
            now=utcnow(),
        )


def test_the_approvers_case_page_shows_the_follow_up_task(env: Env, client: TestClient) -> None:
    import re

    from service.users import hash_password
    from store.records import User

    submit(env, APPROVED)
    decide_all(env)
    assert _rate(client, APPROVED, level="dissatisfied", comment="等候太久").status_code == 201
    with env.services.sessions.begin() as session:
        approver = session.get(User, "approver")
        assert approver is not None
        approver.password_hash = hash_password("a-page-password")
    csrf = re.compile(r'name="csrf" value="([^"]+)"')
    page = client.get("/login")
    token = csrf.search(page.text)
    assert token is not None
    form = {"user_id": "approver", "password": "a-page-password", "csrf": token.group(1), "next": "/queue"}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    case_page = client.get(f"/cases/{APPROVED}")
    assert case_page.status_code == 200, case_page.text[:500]
    assert "差评回访整改" in case_page.text


def test_two_ratings_sent_at_once_one_is_kept(env: Env) -> None:
    import threading

    from service.audit import verify_trail
    from service.errors import Conflict

    submit(env, APPROVED)
    decide_all(env)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def rate(level: str) -> None:
        barrier.wait()
        try:
            ratings.rate_case(
                env.services,
                user=env.users["applicant"],
                case_id=APPROVED,
                level=level,
                comment="",
                now=utcnow(),
            )
            outcomes.append("rated")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=rate, args=(lvl,)) for lvl in ("satisfied", "very_dissatisfied")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["conflict", "rated"]
    with env.services.sessions() as session:
        [kept] = session.scalars(select(RatingRow)).all()
        follow_ups = session.scalars(select(TaskRow).where(TaskRow.kind == "follow_up")).all()
        assert len(follow_ups) == (1 if kept.score == 1 else 0)
        assert len(session.scalars(select(AuditEvent).where(AuditEvent.action == "case.rated")).all()) == 1
    assert verify_trail(env.services).ok
