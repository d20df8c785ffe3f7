"""Idempotency: a retried submission returns the first case, never a second one; a case_id already
taken is refused with one answer, whoever's case holds it."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from fastapi.testclient import TestClient
from service_kit import Env, auth, bind, sample
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
    bind(env, "applicant2", data)  # a second account of the same person
    for user in ("applicant", "applicant2"):
        r = client.post("/api/v1/cases", json=data, headers={**auth(user), "Idempotency-Key": "shared"})
        assert r.status_code == 202, r.text
    assert _count_cases(env) == 2


def test_same_case_id_twice_gives_one_case(env: Env, client: TestClient) -> None:
    data = sample("sp-01-general-grade1-clean")
    bind(env, "applicant", data)
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


def test_a_clash_with_another_applicants_case_id_reveals_nothing(env: Env, client: TestClient) -> None:
    theirs = sample("sp-01-general-grade1-clean")
    bind(env, "applicant", theirs)
    assert client.post("/api/v1/cases", json=theirs, headers=auth("applicant")).status_code == 202
    case_id = theirs["case_id"]
    # what the owner hears when the id is reused for other content ...
    changed = {**theirs, "form": {**theirs["form"], "safety_officers": []}}
    own = client.post("/api/v1/cases", json=changed, headers=auth("applicant"))
    # ... is all anyone else hears, with a case of their own, with the owner's very content, or with
    # an Idempotency-Key of their own
    mine = {**sample("dt-01-only-home-small"), "case_id": case_id}
    others = [
        client.post("/api/v1/cases", json=mine, headers=auth("applicant2")),
        client.post("/api/v1/cases", json=theirs, headers=auth("applicant2")),
        client.post("/api/v1/cases", json=mine, headers={**auth("applicant2"), "Idempotency-Key": "k-1"}),
    ]
    assert own.status_code == 409
    assert own.json()["problems"] == [{"path": "case_id", "message": "编号已被占用"}]
    for r in others:
        assert r.status_code == 409
        assert r.json() == own.json()
        assert r.headers.get("location") is None
        assert r.headers["content-type"] == own.headers["content-type"]
    text = own.text
    for revealing in ("applicant", theirs["item"], theirs["applicant"]["name"], "queued", "decided", "2026"):
        assert revealing not in text, revealing
    # and looking the id up tells them no more than an id nobody has
    seen = client.get(f"/api/v1/cases/{case_id}", headers=auth("applicant2"))
    unknown = client.get("/api/v1/cases/NOBODY-1", headers=auth("applicant2"))
    assert seen.status_code == unknown.status_code == 404
    assert seen.json()["detail"].replace(case_id, "ID") == unknown.json()["detail"].replace("NOBODY-1", "ID")
    assert _count_cases(env) == 1
    # the owner's retry is still answered with the case
    again = client.post("/api/v1/cases", json=theirs, headers=auth("applicant"))
    assert (again.status_code, again.json()["case_id"], again.json()["created"]) == (200, case_id, False)


def test_concurrent_duplicate_submissions_make_exactly_one_case(env: Env, client: TestClient) -> None:
    by_key = _without_case_id("dt-02-only-home-large")
    by_id = {**sample("dt-03-spouse-house-small"), "applicant": by_key["applicant"]}
    bind(env, "applicant", by_key)
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
