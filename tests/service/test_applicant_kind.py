"""An item serves one kind of applicant (item.applicant_kind): a case of the other kind is refused
with 422 and a Chinese reason naming applicant.kind, on every way in (JSON, multipart, pre-check),
and nothing is recorded or queued. (The engine's side: tests/engine/test_decision.py; the CLI's:
tests/miaopi/test_cli.py.)"""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from service_kit import Env, auth, bind, sample
from sqlalchemy import func, select

from store.records import CaseRow

DEED = "dt-01-only-home-small"
PERMIT = "sp-01-general-grade1-clean"
AN_ENTERPRISE = sample(PERMIT)["applicant"]
A_PERSON = sample(DEED)["applicant"]


def _case_count(env: Env) -> int:
    with env.services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(CaseRow)) or 0)


def _refused_for_its_kind(r: Any, served: str, name: str) -> None:
    assert r.status_code == 422, r.text[:500]
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "invalid_case"
    assert [p["path"] for p in body["problems"]] == ["applicant.kind"]
    assert f"只受理{name}申请（applicant.kind 应为 {served}）" in body["problems"][0]["message"]
    assert "applicant.kind" in body["detail"]


def test_an_enterprise_on_a_person_item_is_refused_and_nothing_is_recorded(
    env: Env, client: TestClient
) -> None:
    assert AN_ENTERPRISE["kind"] == "enterprise" and A_PERSON["kind"] == "person"
    data = {**sample(DEED), "applicant": AN_ENTERPRISE}
    data.pop("case_id", None)
    before = _case_count(env)
    bind(env, "applicant", data)  # the enterprise's own account: refused for the item, not the account
    _refused_for_its_kind(
        client.post("/api/v1/cases", json=data, headers=auth("applicant")), "person", "个人"
    )
    _refused_for_its_kind(
        client.post(
            "/api/v1/cases/multipart",
            data={"case": json.dumps(data, ensure_ascii=False)},
            headers=auth("applicant"),
        ),
        "person",
        "个人",
    )
    _refused_for_its_kind(
        client.post("/api/v1/decide", json=data, headers=auth("applicant")), "person", "个人"
    )
    assert _case_count(env) == before
    # the same case with the applicant the item serves is taken (from that person's account)
    bind(env, "applicant", {**data, "applicant": A_PERSON})
    r = client.post("/api/v1/cases", json={**data, "applicant": A_PERSON}, headers=auth("applicant"))
    assert r.status_code in (200, 201, 202), r.text[:500]
    assert _case_count(env) == before + 1


def test_a_person_on_an_enterprise_item_is_refused(env: Env, client: TestClient) -> None:
    data = {**sample(PERMIT), "applicant": A_PERSON, "documents": []}
    data.pop("case_id", None)
    before = _case_count(env)
    r = client.post("/api/v1/decide", json=data, headers=auth("applicant"))
    _refused_for_its_kind(r, "enterprise", "企业")
    r = client.post("/api/v1/cases", json=data, headers=auth("applicant"))
    _refused_for_its_kind(r, "enterprise", "企业")
    assert _case_count(env) == before
