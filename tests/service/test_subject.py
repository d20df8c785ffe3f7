"""An applicant account is bound to one subject (a person's ID number, or an enterprise's credit code
with the person acting for it): without one it cannot submit or pre-check, and it submits and
pre-checks only cases whose applicant is that subject (403 naming the field, nothing stored). Admin
submits for anyone."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_kit import AGENT_ID, Env, auth, bind, sample
from sqlalchemy import func, select

from service.errors import InvalidRequest
from service.transactions import utcnow
from service.users import add_user, subject_for
from store.records import AuditEvent, CaseRow

MINE = "dt-01-only-home-small"
THEIRS = "dt-03-spouse-house-small"
FIRM = "sp-01-general-grade1-clean"
FIRM_REP = "510120197904210485"  # its 法定代表人 in samples/shared-data/enterprises.csv


def _cases(env: Env) -> int:
    with env.services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(CaseRow)) or 0)


def _three_ways(client: TestClient, data: dict[str, Any], who: str) -> list[Any]:
    pre = {k: v for k, v in data.items() if k != "case_id"}
    return [
        client.post("/api/v1/cases", json=data, headers=auth(who)),
        client.post(
            "/api/v1/cases/multipart", data={"case": json.dumps(data, ensure_ascii=False)}, headers=auth(who)
        ),
        client.post("/api/v1/decide", json=pre, headers=auth(who)),
    ]


def test_an_account_without_a_subject_cannot_submit_or_pre_check(env: Env, client: TestClient) -> None:
    add_user(
        env.services, user_id="unbound", display_name="未绑定", role="applicant", department=None,
        password=None, token="token-unbound", now=utcnow(),
    )  # fmt: skip
    before = _cases(env)
    for r in _three_ways(client, sample(MINE), "unbound"):
        assert r.status_code == 403, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "尚未绑定申请主体" in r.json()["detail"]
    assert _cases(env) == before


def test_a_case_of_another_person_is_refused_and_nothing_is_stored(env: Env, client: TestClient) -> None:
    bind(env, "applicant", sample(MINE))
    before = _cases(env)
    for r in _three_ways(client, sample(THEIRS), "applicant"):
        assert r.status_code == 403, r.text
        body = r.json()
        assert body["problems"] == [
            {"path": "applicant.id_number", "message": "与本账号绑定的申请主体不一致"}
        ]
        assert sample(THEIRS)["applicant"]["id_number"] not in r.text
    assert _cases(env) == before
    with env.services.sessions() as session:
        assert not session.scalars(select(AuditEvent).where(AuditEvent.action == "case.submitted")).all()
    # the account's own case is taken, and admin (staff) submits on anyone's behalf
    assert client.post("/api/v1/cases", json=sample(MINE), headers=auth("applicant")).status_code == 202
    assert client.post("/api/v1/cases", json=sample(THEIRS), headers=auth("admin")).status_code == 202
    assert client.post("/api/v1/decide", json=sample(THEIRS), headers=auth("admin")).status_code == 200
    assert _cases(env) == before + 2


def test_an_enterprise_account_acts_for_its_own_credit_code(env: Env, client: TestClient) -> None:
    bind(env, "applicant2", sample(FIRM))
    assert env.users["applicant2"].subject_kind == "enterprise"
    assert env.users["applicant2"].acting_id_number == FIRM_REP
    assert env.users["applicant2"].acting_as == "legal_representative"
    other = sample("sp-02-general-special-clean")
    r = client.post("/api/v1/decide", json={**other, "documents": []}, headers=auth("applicant2"))
    assert r.status_code == 403
    assert r.json()["problems"][0]["path"] == "applicant.credit_code"
    # a person's case from an enterprise's account: refused for the kind
    r = client.post("/api/v1/cases", json=sample(MINE), headers=auth("applicant2"))
    assert r.status_code == 403 and "企业" in r.json()["detail"]


def test_subjects_are_checked_when_bound(env: Env) -> None:
    firm = sample(FIRM)["applicant"]["credit_code"]
    person = sample(MINE)["applicant"]["id_number"]
    assert subject_for(env.services, subject_id=person).kind == "person"
    bad_check = person[:-1] + ("0" if person[-1] != "0" else "1")
    with pytest.raises(InvalidRequest, match="既不是有效的身份证号码"):
        subject_for(env.services, subject_id=bad_check)
    with pytest.raises(InvalidRequest, match="经办人"):
        subject_for(env.services, subject_id=firm)  # no acting person
    with pytest.raises(InvalidRequest, match="不是该企业在市场主体登记信息库中登记的法定代表人"):
        subject_for(env.services, subject_id=firm, acting_id=AGENT_ID)
    agent = subject_for(env.services, subject_id=firm, acting_id=AGENT_ID, agent=True)
    assert (agent.kind, agent.acting_as, agent.acting_id_number) == ("enterprise", "agent", AGENT_ID)
    with pytest.raises(InvalidRequest, match="只有申请人账号绑定申请主体"):
        add_user(
            env.services, user_id="x", display_name="x", role="approver", department="d", password=None,
            subject=subject_for(env.services, subject_id=person), now=utcnow(),
        )  # fmt: skip
