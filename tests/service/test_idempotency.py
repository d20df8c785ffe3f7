"""Idempotency: a retried submission returns the first case, never a second one."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from fastapi.testclient import TestClient
from service_kit import Env, auth, sample
from sqlalchemy import func, select

from store.records import AuditEvent, CaseRow


def _count_cases(env: Env) -> int:
    with env.services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(CaseRow)) or 0)


def _without_case_id(name: str) -> dict[str, Any]:
    data = sample(name)
    del data["case_id"]
    return data


def test_same_key_twice_gives_one_case(env: Env, client: TestClient) -> None:
    data = _without_case_id("dt-01-only-home-small")
    headers = {**auth("applicant"), "Idempotency-Key": "retry-1"}
    first = client.post("/api/v1/cases", json=data, headers=headers)
    second = client.post("/api/v1/cases", json=data, headers=headers)
    assert first.status_code == 202 and first.json()["created"] is True
    assert second.status_code == 200, second.text
    assert second.json()["created"] is False
    assert second.json()["case_id"] == first.json()["case_id"]
    assert second.headers["Location"] == first.headers["Location"]
    assert _count_cases(env) == 1


def test_same_key_with_a_different_body_is_a_conflict(env: Env, client: TestClient) -> None:
    data = _without_case_id("dt-01-only-home-small")
    headers = {**auth("applicant"), "Idempotency-Key": "retry-2"}
    assert client.post("/api/v1/cases", json=data, headers=headers).status_code == 202
    changed = {**data, "form": {**data["form"], "price_yuan": "1580001.00"}}
    r = client.post("/api/v1/cases", json=changed, headers=headers)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 409 and body["code"] == "conflict"
    assert body["problems"][0]["path"] == "Idempotency-Key"
    assert _count_cases(env) == 1


def test_the_same_key_of_another_applicant_is_their_own(env: Env, client: TestClient) -> None:
    data = _without_case_id("dt-01-only-home-small")
    for user in ("applicant", "applicant2"):
        r = client.post("/api/v1/cases", json=data, headers={**auth(user), "Idempotency-Key": "shared"})
        assert r.status_code == 202, r.text
    assert _count_cases(env) == 2


def test_same_case_id_twice_gives_one_case(env: Env, client: TestClient) -> None:
    data = sample("sp-01-general-grade1-clean")
    first = client.post("/api/v1/cases", json=data, headers=auth("applicant"))
    second = client.post("/api/v1/cases", json=data, headers=auth("applicant"))
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["case_id"] == data["case_id"] and second.json()["created"] is False
    # another applicant may not take over the case id, nor learn anything from it
    other = client.post("/api/v1/cases", json=data, headers=auth("applicant2"))
    assert other.status_code == 409
    changed = {**data, "form": {**data["form"], "safety_officers": []}}
    assert client.post("/api/v1/cases", json=changed, headers=auth("applicant")).status_code == 409
    assert _count_cases(env) == 1


def test_concurrent_duplicate_submissions_make_exactly_one_case(env: Env, client: TestClient) -> None:
    by_key = _without_case_id("dt-02-only-home-large")
    by_id = sample("dt-03-spouse-house-small")
    statuses: list[tuple[str, int, str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def post(kind: str) -> None:
        try:
            barrier.wait()
            if kind == "key":
                r = client.post(
                    "/api/v1/cases", json=by_key, headers={**auth("applicant"), "Idempotency-Key": "race"}
                )
            else:
                r = client.post("/api/v1/cases", json=by_id, headers=auth("applicant"))
            statuses.append((kind, r.status_code, r.json().get("case_id", r.text)))
        except (httpx.HTTPError, threading.BrokenBarrierError) as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=post, args=("key" if i % 2 else "id",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for kind in ("key", "id"):
        got = [(code, cid) for k, code, cid in statuses if k == kind]
        assert len(got) == 4
        assert sorted(code for code, _ in got) == [200, 200, 200, 202], got
        assert len({cid for _, cid in got}) == 1, got
    assert _count_cases(env) == 2
    with env.services.sessions() as session:
        submitted = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "case.submitted")
        )
    assert submitted == 2
