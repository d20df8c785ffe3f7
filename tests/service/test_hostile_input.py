"""Hostile input through the API: bodies over the size limit are refused before they are read, JSON
nested 10,000 deep is a 400 or 422 with a Chinese problem, never a 500, and a
commitment cannot carry megabytes. (The CLI's side: tests/miaopi/test_cli.py.)"""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi.testclient import TestClient
from service_kit import Env, auth, sample
from sqlalchemy import func, select

from store.records import CaseRow

DEEP = 10_000


def _deep(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def _with_deep(data: dict[str, object], depth: int) -> str:
    """The case as JSON text with form.extra nested `depth` lists deep (written as text: the JSON
    encoder itself cannot nest that deep)."""
    text = json.dumps({**data, "form": {**data["form"], "extra": "__DEEP__"}})  # type: ignore[dict-item]
    return text.replace('"__DEEP__"', "[" * depth + "1" + "]" * depth)


def _case_count(env: Env) -> int:
    with env.services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(CaseRow)) or 0)


def test_a_body_over_the_limit_is_refused_by_its_length_before_it_is_read(
    env: Env, client: TestClient
) -> None:
    limit = env.settings.max_json_bytes
    before = _case_count(env)
    body = b'{"item": "deed-tax", "form": {"x": "' + b"a" * (limit + 10) + b'"}}'
    headers = {**auth("applicant"), "Content-Type": "application/json"}
    r = client.post("/api/v1/cases", content=body, headers=headers)
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "too_large" and "MiB" in r.json()["detail"]
    for path in ("/api/v1/decide", "/api/v1/rulesets"):
        assert client.post(path, content=body, headers=auth("applicant")).status_code == 413
    assert _case_count(env) == before  # nothing recorded by a refused request


def test_a_body_without_a_length_is_cut_off_at_the_limit(env: Env, client: TestClient) -> None:
    limit = env.settings.max_json_bytes
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"item": "deed-tax", "commitments": ["'
        while sent < 4 * limit:
            sent += 64 * 1024
            yield b"a" * (64 * 1024)
        yield b'"]}'

    before = _case_count(env)
    r = client.post(
        "/api/v1/cases", content=chunks(), headers={**auth("applicant"), "Content-Type": "application/json"}
    )
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "too_large"
    assert _case_count(env) == before


def test_json_nested_ten_thousand_deep_is_a_422_not_a_500(env: Env, client: TestClient) -> None:
    data = sample("dt-01-only-home-small")
    data.pop("case_id", None)
    deep_text = _with_deep(data, DEEP)
    r = client.post(
        "/api/v1/cases",
        content=deep_text.encode(),
        headers={**auth("applicant"), "Content-Type": "application/json"},
    )
    # decoding fails before any route code runs: a 400 problem in Chinese, not a 500
    assert r.status_code == 400, r.text[:500]
    assert r.json()["code"] == "unreadable_body" and "嵌套" in r.json()["detail"]
    r = client.post("/api/v1/cases/multipart", data={"case": deep_text}, headers=auth("applicant"))
    assert r.status_code == 422, r.text[:500]
    assert "嵌套" in r.json()["detail"]
    # nested deep enough to be refused, but not so deep that decoding fails: the case's own limit
    moderate = {**data, "form": {**data["form"], "extra": _deep(40)}}
    r = client.post("/api/v1/cases", json=moderate, headers=auth("applicant"))
    assert r.status_code == 422, r.text[:500]
    assert any("嵌套层数超过" in p["message"] for p in r.json()["problems"])


def test_a_commitment_cannot_carry_megabytes(env: Env, client: TestClient) -> None:
    data = sample("dt-01-only-home-small")
    data.pop("case_id", None)
    r = client.post("/api/v1/cases", json={**data, "commitments": ["x" * 101]}, headers=auth("applicant"))
    assert r.status_code == 422, r.text[:500]
    assert any(p["path"].startswith("commitments") for p in r.json()["problems"])
