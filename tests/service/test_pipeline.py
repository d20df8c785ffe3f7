"""The pipeline: submitted sample cases decided by the worker as the golden expectations say, decisions
recorded with their ruleset and facts, replay, and the submission committed before the answer."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_kit import (
    DEED_TAX_VERSION,
    Env,
    auth,
    bind,
    decide_all,
    expected,
    post_multipart,
    sample,
    submit,
)
from sqlalchemy import select

from service.audit import verify_trail
from service.errors import Conflict
from service.replay import replay
from service.rulesets import publish_ruleset
from service.transactions import utcnow
from store.records import AuditEvent, CaseRow, DecisionRow, ResultRow, RulesetVersion, TaskRow

DEED_TAX = [
    "dt-01-only-home-small",
    "dt-04-spouse-house-large",
    "dt-11-two-homes",
    "dt-13-office-usage",
    "dt-22-name-mismatch",
    "dt-24-deceased",
    "dt-29-declared-houses-wrong",
    "dt-35-no-filing-no-contract",
    "dt-38-several-problems",
    "dt-39-returned-despite-problems",
    "dt-42-contract-text-pdf",
    "dt-47-contract-file-broken",
]
PERMIT = [
    "sp-01-general-grade1-clean",
    "sp-06-labour-clean",
    "sp-08-enterprise-revoked",
    "sp-11-enterprise-not-found-no-licence",
    "sp-15-after-expiry",
    "sp-17-late-application",
    "sp-26-two-penalties",
    "sp-29-blacklist-active",
    "sp-39-missing-commitment",
    "sp-40-expired-and-no-commitment",
    "sp-41-several-problems",
]


def _with_changed_condition(content: str) -> str:
    """The deed-tax ruleset under a new version whose name check is inverted."""
    old_version = f'version: "{DEED_TAX_VERSION}"'
    old_when = 'when: "applicant.name == person.name"'
    assert old_version in content and old_when in content
    return content.replace(old_version, 'version: "2099.1.0"').replace(
        old_when, 'when: "applicant.name != person.name"'
    )


def test_sample_cases_are_decided_as_expected_recorded_and_replayed(env: Env) -> None:
    names = DEED_TAX + PERMIT
    for name in names:
        submit(env, name)
    assert decide_all(env) == len(names)

    with env.services.sessions() as session:
        cases = {r.id: r for r in session.scalars(select(CaseRow))}
        decisions = {d.case_id: d for d in session.scalars(select(DecisionRow))}
        versions = {(v.item, v.version): v.sha256 for v in session.scalars(select(RulesetVersion))}
        tasks = {t.case_id: t for t in session.scalars(select(TaskRow))}
        results = {r.case_id: r for r in session.scalars(select(ResultRow))}
        assert verify_trail(env.services).ok
        decided_events = session.scalars(
            select(AuditEvent.subject).where(AuditEvent.action == "case.decided")
        ).all()
    assert sorted(decided_events) == sorted(names)
    for name in names:
        want = expected(name)
        row, rec = cases[name], decisions[name]
        assert row.status == "decided", name
        assert (name, row.outcome, rec.outcome) == (name, want["outcome"], want["outcome"])
        assert rec.decision["outcome"] == want["outcome"]
        for key, value in want.get("outputs", {}).items():
            assert str(rec.decision["outputs"][key]) == str(value), (name, key)
        failed = sorted(c["id"] for c in rec.decision["conditions"] if c["status"] == "fail")
        assert failed == sorted(want["failed"]), name
        # the decision keeps the ruleset version, its hash and the exact facts
        assert rec.ruleset_sha256 == versions[(rec.item, rec.ruleset_version)]
        assert rec.decision["ruleset"]["sha256"] == rec.ruleset_sha256
        assert rec.facts["case"]["case_id"] == name
        assert set(rec.facts) >= {"case", "now", "registry", "documents"}
        # routing: review opens a task, every other outcome issues a result at once
        if want["outcome"] == "review":
            assert name in tasks and name not in results
        else:
            assert name in results and name not in tasks

    replays = {name: replay(env.services, case_id=name, now=utcnow()) for name in names}
    for name, report in replays.items():
        assert report["reproduced"] is True, name
        assert report["current"]["comparable"] is True
        assert report["current"]["differs"] is False, name

    admin = env.users["admin"]
    with env.services.sessions() as session:
        content = session.scalars(
            select(RulesetVersion.content).where(RulesetVersion.item == "deed-tax")
        ).one()
    published = publish_ruleset(
        env.services,
        user=admin,
        content=_with_changed_condition(content),
        effective_from=None,
        now=utcnow(),
        golden=lambda program: [],
    )
    assert published.version == "2099.1.0"
    approved = next(n for n in DEED_TAX if expected(n)["outcome"] == "approved")
    report = replay(env.services, case_id=approved, now=utcnow())
    assert report["reproduced"] is True
    assert report["current"]["version"] == "2099.1.0"
    assert report["current"]["differs"] is True
    assert {"condition": "applicant_name_matches", "recorded": "pass", "current": "fail"} in report[
        "current"
    ]["conditions"]
    assert report["current"]["outcome"] == "review"
    # a permit case is untouched by the deed-tax version
    assert (
        replay(env.services, case_id="sp-01-general-grade1-clean", now=utcnow())["current"]["differs"]
        is False
    )
    with env.services.sessions() as session:
        assert verify_trail(env.services).ok


def test_publish_is_refused_when_golden_cases_fail(env: Env) -> None:
    with env.services.sessions() as session:
        content = session.scalars(
            select(RulesetVersion.content).where(RulesetVersion.item == "deed-tax")
        ).one()
    failures = ["dt-01: outcome review, expected approved"]
    with pytest.raises(Conflict) as refused:
        publish_ruleset(
            env.services,
            user=env.users["rule_author"],
            content=_with_changed_condition(content),
            effective_from=None,
            now=utcnow(),
            golden=lambda program: failures,
        )
    assert refused.value.problems == [{"path": "golden", "message": failures[0]}]
    with env.services.sessions() as session:
        versions = session.scalars(
            select(RulesetVersion.version).where(RulesetVersion.item == "deed-tax")
        ).all()
    assert versions == [DEED_TAX_VERSION]


def test_a_submission_is_committed_before_the_answer(env: Env, client: TestClient) -> None:
    data = sample("dt-01-only-home-small")
    r = client.post("/api/v1/cases", json=data, headers=auth("applicant"))
    assert r.status_code == 202, r.text
    body = r.json()
    assert body == {
        "case_id": data["case_id"],
        "status": "queued",
        "status_label": "已受理",
        "outcome": None,
        "outcome_label": None,
        "progress_label": "已受理",
        "created": True,
        "links": {"self": f"/api/v1/cases/{data['case_id']}"},
    }
    assert r.headers["Location"] == body["links"]["self"]
    # a fresh connection sees the row and its audit event right away
    with env.services.engine.connect() as conn:
        status = conn.execute(select(CaseRow.status).where(CaseRow.id == data["case_id"])).scalar_one()
        submitted = conn.execute(select(AuditEvent.action).where(AuditEvent.subject == data["case_id"])).all()
    assert status == "queued"
    assert [a for (a,) in submitted] == ["case.submitted"]


def test_multipart_submission_with_a_text_pdf_is_decided(env: Env, client: TestClient) -> None:
    name = "dt-42-contract-text-pdf"
    bind(env, "applicant", sample(name))
    r = post_multipart(client, name)
    assert r.status_code == 202, r.text
    assert decide_all(env) == 1
    view: dict[str, Any] = client.get(f"/api/v1/cases/{name}", headers=auth("applicant")).json()
    assert view["status"] == "decided"
    assert view["outcome"] == expected(name)["outcome"] == "approved"
    [result] = view["results"]
    pdf = client.get(f"/api/v1/results/{result['code']}/pdf", headers=auth("applicant"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    check = client.get(f"/api/v1/verify/{result['code']}")
    assert check.status_code == 200 and check.json()["genuine"] is True
