"""Hostile input through the API: bodies over the size limit are refused before they are read, JSON
with more values than the limit (10,000 nested arrays among them) before it is decoded, JSON nested
deeper than the decoder goes is a 400 or 422 with a Chinese problem, never a 500, and a commitment
cannot carry megabytes. (The CLI's side: tests/miaopi/test_cli.py.)"""

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


def test_json_nested_ten_thousand_deep_is_a_4xx_not_a_500(env: Env, client: TestClient) -> None:
    data = sample("dt-01-only-home-small")
    data.pop("case_id", None)
    headers = {**auth("applicant"), "Content-Type": "application/json"}
    # 10,000 nested arrays are 10,000 values: refused on the text, before decoding starts
    deep_text = _with_deep(data, DEEP)
    r = client.post("/api/v1/cases", content=deep_text.encode(), headers=headers)
    assert r.status_code == 413, r.text[:500]
    assert r.json()["code"] == "too_many_values" and "嵌套层数超过 32 层" in r.json()["detail"]
    r = client.post("/api/v1/cases/multipart", data={"case": deep_text}, headers=auth("applicant"))
    assert r.status_code == 413, r.text[:500]
    assert r.json()["code"] == "too_many_values"
    # fewer values, still too deep for the decoder: a 400 (JSON body) or 422 (multipart field) in Chinese
    deeper_than_the_decoder = _with_deep(data, 2_000)
    r = client.post("/api/v1/cases", content=deeper_than_the_decoder.encode(), headers=headers)
    assert r.status_code == 400, r.text[:500]
    assert r.json()["code"] == "unreadable_body" and "嵌套" in r.json()["detail"]
    r = client.post(
        "/api/v1/cases/multipart", data={"case": deeper_than_the_decoder}, headers=auth("applicant")
    )
    assert r.status_code == 422, r.text[:500]
    assert "嵌套" in r.json()["detail"]
    # nested deep enough to be refused, but not so deep that decoding fails: the case's own limit
    moderate = {**data, "form": {**data["form"], "extra": _deep(40)}}
    r = client.post("/api/v1/cases", json=moderate, headers=auth("applicant"))
    assert r.status_code == 422, r.text[:500]
    assert any("嵌套层数超过" in p["message"] for p in r.json()["problems"])


def test_a_megabyte_of_tiny_values_is_refused_before_it_is_decoded(env: Env, client: TestClient) -> None:
    """`[[],[],...]` under the size limit decodes to some 350,000 lists (21 MiB, and as much again while
    validated): 40 of them at once took the API to 1.8 GiB. Counted on the text, refused at once."""
    limit = env.settings.max_json_bytes
    values = b"[]," * ((limit - 100) // 3)
    bomb = b'{"item": "deed-tax", "form": {"x": [' + values + b"0]}}"
    assert len(bomb) <= limit
    strings = b'{"item": "deed-tax", "form": {"x": [' + b'"",' * ((limit - 100) // 3) + b'""]}}'
    before = _case_count(env)
    headers = {**auth("applicant"), "Content-Type": "application/json"}
    for path in ("/api/v1/cases", "/api/v1/decide", "/api/v1/rulesets"):
        for body in (bomb, strings):
            r = client.post(path, content=body, headers=headers)
            assert r.status_code == 413, (path, r.text[:300])
            assert r.json()["code"] == "too_many_values", r.text[:300]
    r = client.post("/api/v1/cases", content=bomb)  # refused before sign-in as well
    assert r.status_code == 413 and r.json()["code"] == "too_many_values"
    r = client.post(
        "/api/v1/cases/multipart",
        data={"case": bomb.decode()},
        files={"files": ("a.pdf", b"%PDF-1.4", "application/pdf")},  # multipart, not a url-encoded form
        headers=auth("applicant"),
    )
    assert r.status_code == 413 and r.json()["problems"][0]["path"] == "case", r.text[:300]
    assert _case_count(env) == before
    # commas and brackets inside strings are not values: a case with long text still goes through
    data = sample("dt-01-only-home-small")
    data["case_id"] = "commas-in-text"
    data["applicant"]["name"] = "张三"
    text = json.dumps({**data, "commitments": ["family_housing_truthful"]}, ensure_ascii=False)
    padded = text.replace('"form": {', '"form": {"_note": "' + "[,{" * 20_000 + '", ', 1)
    r = client.post("/api/v1/decide", content=padded.encode(), headers=headers)
    assert r.status_code == 422, r.text[:300]  # read and decided upon: the note is not a declared field
    assert any(p["path"] == "form._note" for p in r.json()["problems"]), r.text[:300]


def test_a_commitment_cannot_carry_megabytes(env: Env, client: TestClient) -> None:
    data = sample("dt-01-only-home-small")
    data.pop("case_id", None)
    r = client.post("/api/v1/cases", json={**data, "commitments": ["x" * 101]}, headers=auth("applicant"))
    assert r.status_code == 422, r.text[:500]
    assert any(p["path"].startswith("commitments") for p in r.json()["problems"])
