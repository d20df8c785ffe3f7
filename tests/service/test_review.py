"""The review queue: claim, release, decide; one claim wins; AB岗 takeover; results after review; cards
and departments."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_kit import DEED_TAX_DEPT, DEED_TAX_VERSION, PERMIT_DEPT, Env, auth, decide_all, submit
from sqlalchemy import select

from service.audit import verify_trail
from service.errors import Conflict, NotFound
from service.review import claim_task, decide_task, release_task
from service.rulesets import publish_ruleset
from service.transactions import utcnow
from store.records import AuditEvent, RulesetVersion, TaskRow

REVIEW_DT = "dt-22-name-mismatch"
REVIEW_SP = "sp-08-enterprise-revoked"


def _task_of(env: Env, case_id: str) -> TaskRow:
    with env.services.sessions() as session:
        return session.scalars(select(TaskRow).where(TaskRow.case_id == case_id)).one()


def _review_task(
    env: Env, name: str = REVIEW_DT, *, case_id: str | None = None, now: datetime | None = None
) -> int:
    submit(env, name, case_id=case_id, now=now)
    decide_all(env)
    task = _task_of(env, case_id or name)
    assert task.kind == "review" and task.status == "open"
    return task.id


def test_claim_release_and_decide_through_the_api(env: Env, client: TestClient) -> None:
    tid = _review_task(env)
    claim = client.post(f"/api/v1/tasks/{tid}/claim", headers=auth("approver"))
    assert claim.status_code == 200, claim.text
    assert claim.json()["status"] == "claimed" and claim.json()["claimed_by"] == "approver"
    # claiming again is harmless; another approver is refused while the claim is fresh
    assert client.post(f"/api/v1/tasks/{tid}/claim", headers=auth("approver")).status_code == 200
    taken = client.post(f"/api/v1/tasks/{tid}/claim", headers=auth("approver_b"))
    assert taken.status_code == 409 and taken.json()["claimed_by"] == "approver"
    # only the holder may release or decide
    assert client.post(f"/api/v1/tasks/{tid}/release", headers=auth("approver_b")).status_code == 409
    body = {"outcome": "approve", "comment": "经核实姓名为曾用名，同意"}
    assert (
        client.post(f"/api/v1/tasks/{tid}/decide", json=body, headers=auth("approver_b")).status_code == 409
    )
    released = client.post(f"/api/v1/tasks/{tid}/release", headers=auth("approver"))
    assert released.status_code == 200 and released.json()["status"] == "open"
    assert client.post(f"/api/v1/tasks/{tid}/claim", headers=auth("approver_b")).status_code == 200

    for comment in ("", "   "):
        r = client.post(
            f"/api/v1/tasks/{tid}/decide",
            json={"outcome": "approve", "comment": comment},
            headers=auth("approver_b"),
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    missing = client.post(
        f"/api/v1/tasks/{tid}/decide", json={"outcome": "approve"}, headers=auth("approver_b")
    )
    assert missing.status_code == 422
    wrong_kind = client.post(
        f"/api/v1/tasks/{tid}/decide", json={"outcome": "confirm", "comment": "x"}, headers=auth("approver_b")
    )
    assert wrong_kind.status_code == 422

    done = client.post(f"/api/v1/tasks/{tid}/decide", json=body, headers=auth("approver_b"))
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done" and done.json()["outcome"] == "approved"
    assert done.json()["decided_by"] == "approver_b" and done.json()["card"] is None
    again = client.post(f"/api/v1/tasks/{tid}/decide", json=body, headers=auth("approver_b"))
    assert again.status_code == 409

    view: dict[str, Any] = client.get(f"/api/v1/cases/{REVIEW_DT}", headers=auth("applicant")).json()
    assert view["outcome"] == "approved"
    # the engine's evaluation is kept beside the human one
    assert view["engine_outcome"] == "review" and view["decision"]["outcome"] == "review"
    [result] = view["results"]
    assert result["kind"] == "approval"
    pdf = client.get(f"/api/v1/results/{result['code']}/pdf", headers=auth("applicant"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    verified = client.get(f"/api/v1/verify/{result['code']}")
    assert verified.status_code == 200
    assert verified.json()["genuine"] is True and verified.json()["valid"] is True
    # lower case and without separators the code is the same code; a made-up one is not genuine
    assert client.get(f"/api/v1/verify/{result['code'].lower()}").status_code == 200
    assert client.get("/api/v1/verify/NOT-A-CODE").status_code == 404
    with env.services.sessions() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject == REVIEW_DT).order_by(AuditEvent.seq)
        ).all()
        assert verify_trail(env.services).ok
    assert actions == [
        "case.submitted",
        "case.decided",
        "task.opened.review",
        "task.claimed",
        "task.claimed",
        "task.released",
        "task.claimed",
        "task.decided.review",
        "result.issued",
    ]


def test_decide_without_a_claim_is_a_conflict(env: Env, client: TestClient) -> None:
    tid = _review_task(env)
    r = client.post(
        f"/api/v1/tasks/{tid}/decide", json={"outcome": "reject", "comment": "不符"}, headers=auth("approver")
    )
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert _task_of(env, REVIEW_DT).status == "open"


def _race(env: Env, tid: int) -> tuple[list[str], list[str], list[BaseException]]:
    """Two approvers claim the same task at the same moment from two threads."""
    wins: list[str] = []
    conflicts: list[str] = []
    others: list[BaseException] = []
    barrier = threading.Barrier(2)

    def claim(user: Any) -> None:
        barrier.wait()
        try:
            claim_task(env.services, user=user, task_id=tid, now=utcnow())
            wins.append(user.id)
        except Conflict:
            conflicts.append(user.id)
        except BaseException as exc:  # any other failure is reported by the caller
            others.append(exc)

    threads = [threading.Thread(target=claim, args=(env.users[u],)) for u in ("approver", "approver_b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return wins, conflicts, others


def test_two_concurrent_claims_exactly_one_wins(env: Env) -> None:
    for i in range(4):
        tid = _review_task(env, case_id=f"{REVIEW_DT}-{i}")
        wins, conflicts, others = _race(env, tid)
        assert not others, others
        assert len(wins) == 1 and len(conflicts) == 1, (wins, conflicts)
        assert _task_of(env, f"{REVIEW_DT}-{i}").claimed_by == wins[0]


def test_two_concurrent_claims_through_the_api(env: Env, client: TestClient) -> None:
    tid = _review_task(env)
    codes: list[int] = []
    barrier = threading.Barrier(2)

    def claim(user: str) -> None:
        barrier.wait()
        codes.append(client.post(f"/api/v1/tasks/{tid}/claim", headers=auth(user)).status_code)

    threads = [threading.Thread(target=claim, args=(u,)) for u in ("approver", "approver_b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(codes) == [200, 409]


def test_an_idle_claim_may_be_taken_over_by_another_approver(env: Env) -> None:
    tid = _review_task(env)
    a, b = env.users["approver"], env.users["approver_b"]
    t0 = utcnow()
    claim_task(env.services, user=a, task_id=tid, now=t0)
    idle = timedelta(minutes=env.settings.claim_idle_minutes)
    with pytest.raises(Conflict):
        claim_task(env.services, user=b, task_id=tid, now=t0 + idle - timedelta(seconds=5))
    taken = claim_task(env.services, user=b, task_id=tid, now=t0 + idle + timedelta(seconds=5))
    assert taken.claimed_by == "approver_b"
    # the first approver lost the claim: they can neither decide nor release it
    with pytest.raises(Conflict):
        decide_task(env.services, user=a, task_id=tid, outcome="approve", comment="同意", now=t0 + idle * 2)
    with pytest.raises(Conflict):
        release_task(env.services, user=a, task_id=tid, now=t0 + idle * 2)
    # an approver of another department cannot take it over at all
    with pytest.raises(NotFound):
        claim_task(env.services, user=env.users["approver_sp"], task_id=tid, now=t0 + idle * 3)
    with env.services.sessions() as session:
        takeover = session.scalars(select(AuditEvent).where(AuditEvent.action == "task.taken_over")).one()
    assert takeover.actor == "approver_b" and takeover.detail["previous"] == "approver"


def test_red_cards_first_card_filter_and_departments(env: Env, client: TestClient) -> None:
    now = utcnow()
    overdue = _review_task(env, case_id="dt-overdue", now=now - timedelta(days=60))
    older_overdue = _review_task(env, case_id="dt-overdue-older", now=now - timedelta(days=90))
    fresh = _review_task(env, case_id="dt-fresh", now=now)
    permit = _review_task(env, REVIEW_SP, now=now)

    r = client.get("/api/v1/tasks", headers=auth("approver"))
    assert r.status_code == 200
    listed = r.json()["tasks"]
    assert [t["id"] for t in listed][:2] == [older_overdue, overdue]
    assert {t["id"] for t in listed} == {overdue, older_overdue, fresh}
    assert [t["card"] for t in listed][:2] == ["red", "red"]
    assert all(t["department"] == DEED_TAX_DEPT for t in listed)
    assert r.json()["counts"]["red"] == 2
    # names are masked in the list
    assert all("*" in (t["applicant"] or "*") for t in listed)

    red = client.get("/api/v1/tasks", params={"card": "red"}, headers=auth("approver")).json()["tasks"]
    assert [t["id"] for t in red] == [older_overdue, overdue]
    fresh_card = next(t["card"] for t in listed if t["id"] == fresh)
    same = client.get("/api/v1/tasks", params={"card": fresh_card}, headers=auth("approver")).json()["tasks"]
    assert [t["id"] for t in same] == [fresh]
    assert client.get("/api/v1/tasks", params={"card": "purple"}, headers=auth("approver")).status_code == 422

    # approvers see their own department only
    sp = client.get("/api/v1/tasks", headers=auth("approver_sp")).json()["tasks"]
    assert [t["id"] for t in sp] == [permit] and sp[0]["department"] == PERMIT_DEPT
    other = client.get("/api/v1/tasks", params={"department": DEED_TAX_DEPT}, headers=auth("approver_sp"))
    assert other.status_code == 403
    for action in ("claim", "release"):
        assert (
            client.post(f"/api/v1/tasks/{overdue}/{action}", headers=auth("approver_sp")).status_code == 404
        )
    decide = client.post(
        f"/api/v1/tasks/{overdue}/decide",
        json={"outcome": "approve", "comment": "x"},
        headers=auth("approver_sp"),
    )
    assert decide.status_code == 404
    assert client.get("/api/v1/cases/dt-overdue", headers=auth("approver_sp")).status_code == 404
    # auditors and admins see every department
    everything = client.get("/api/v1/tasks", headers=auth("auditor")).json()["tasks"]
    assert {t["id"] for t in everything} == {overdue, older_overdue, fresh, permit}
    assert everything[0]["card"] == "red"


def test_task_ids_beyond_the_column_are_refused_not_a_server_error(env: Env, client: TestClient) -> None:
    for tid in ("2147483648", "99999999999999999999", "0"):
        r = client.post(f"/api/v1/tasks/{tid}/claim", headers=auth("approver"))
        assert r.status_code == 422, (tid, r.text)
    assert client.post("/api/v1/tasks/2147483647/claim", headers=auth("approver")).status_code == 404


def test_a_review_decided_after_a_rollback_renders_under_the_engines_version(
    env: Env, client: TestClient
) -> None:
    with env.services.sessions() as session:
        content = session.scalars(
            select(RulesetVersion.content).where(RulesetVersion.item == "deed-tax")
        ).one()
    newer = content.replace(f'version: "{DEED_TAX_VERSION}"', 'version: "2099.0.1"')
    assert newer != content
    publish_ruleset(
        env.services,
        user=env.users["admin"],
        content=newer,
        effective_from=None,
        now=utcnow(),
        golden=lambda p: [],
    )
    tid = _review_task(env, now=utcnow())
    assert (
        client.post("/api/v1/rulesets/deed-tax/rollback", headers=auth("rule_author")).json()["version"]
        == DEED_TAX_VERSION
    )
    assert client.post(f"/api/v1/tasks/{tid}/claim", headers=auth("approver")).status_code == 200
    r = client.post(
        f"/api/v1/tasks/{tid}/decide",
        json={"outcome": "approve", "comment": "核实无误"},
        headers=auth("approver"),
    )
    assert r.status_code == 200, r.text
    view = client.get(f"/api/v1/cases/{REVIEW_DT}", headers=auth("approver")).json()
    assert view["ruleset"]["version"] == "2099.0.1" and view["outcome"] == "approved"
    assert [res["kind"] for res in view["results"]] == ["approval"]


@pytest.mark.parametrize(
    ("outcome", "kind", "title"),
    [("reject", "refusal_notice", "不予受理通知书"), ("return", "correction_notice", "一次性告知单")],
)
def test_an_approver_may_reject_or_return_and_the_notice_carries_their_comment(
    env: Env, client: TestClient, outcome: str, kind: str, title: str
) -> None:
    import io

    import pdfplumber

    tid = _review_task(env)
    assert client.post(f"/api/v1/tasks/{tid}/claim", headers=auth("approver")).status_code == 200
    comment = "经电话核实，申请人与备案买受人不是同一人"
    done = client.post(
        f"/api/v1/tasks/{tid}/decide", json={"outcome": outcome, "comment": comment}, headers=auth("approver")
    )
    assert done.status_code == 200, done.text
    view = client.get(f"/api/v1/cases/{REVIEW_DT}", headers=auth("applicant")).json()
    assert view["outcome"] == {"reject": "rejected", "return": "returned"}[outcome]
    [result] = view["results"]
    assert result["kind"] == kind and result["title"] == title
    pdf = client.get(f"/api/v1/results/{result['code']}/pdf", headers=auth("applicant")).content
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        text = "".join((page.extract_text() or "") for page in doc.pages).replace("\n", "")
    assert title in text and comment in text
