"""Hostile input through the API: bodies over the size limit are refused before they are read, JSON
with more values than the limit (10,000 nested arrays among them) before it is decoded, JSON nested
deeper than the decoder goes is a 400 or 422 with a Chinese problem, never a 500, and a commitment
cannot carry megabytes. (The CLI's side: tests/miaopi/test_cli.py.)"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import Iterator

import httpx
from fastapi.testclient import TestClient
from reliability_kit import peak_rss, send_endless_body
from service_kit import Env, auth, sample
from sqlalchemy import func, select

from benchmarks.service import running_service
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


# -- against the server as deployed, its memory measured ----------------------------------------------------
CEILING_MIB = 300
"""The API process's resident memory during the attacks (it starts at about 140 MiB)."""
HUGE = 300 * 10**6
FILE_PART = (
    b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.pdf"\r\n'
    b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"
)


def test_hostile_requests_leave_the_servers_memory_bounded() -> None:
    """`miaopi serve` attacked with bodies of 300 MB (declared, and streamed without a length), JSON
    nested 10,000 deep, a megabyte of tiny values, megabyte commitments and 29 MiB uploads, 40 at a
    time where it matters: each is refused (or, the uploads, accepted) with a 4xx, never a 5xx, and the
    API's memory stays under CEILING_MIB throughout, by samples and by the kernel's high-water mark.
    Before: 40 value bombs took it to 1.8 GiB, 40 megabyte strings to 337 MiB, 4 uploads to 370 MiB."""
    with running_service(backend="sqlite", workers=1, environ={"MIAOPI_POST_CHECK_RATE": "0"}) as server:
        base, token = server.base, server.token
        headers = {"Authorization": f"Bearer {token}"}
        statuses: dict[str, object] = {}
        with peak_rss(server.proc.pid) as rss:
            for path in ("/api/v1/cases", "/api/v1/decide", "/api/v1/cases/multipart"):
                form = path.endswith("multipart")
                kind = "multipart/form-data; boundary=b" if form else "application/json"
                start = FILE_PART if form else b'{"item": "deed-tax", "form": {"x": "'
                for chunked in (False, True):
                    status, sent = send_endless_body(
                        base, path, token, total=HUGE, chunked=chunked, content_type=kind, start=start
                    )
                    statuses[f"{path} {'streamed' if chunked else 'declared'}"] = status
                    assert status == 413, (path, chunked, status, server.log_tail())
                    # refused by its length before reading, or as soon as the bytes passed the limit
                    assert sent < 100 * 2**20, (path, chunked, sent)

            data = sample("dt-01-only-home-small")
            data.pop("case_id", None)
            deep = _with_deep(data, DEEP)
            r = httpx.post(
                f"{base}/api/v1/cases", content=deep, headers={**headers, "Content-Type": "application/json"}
            )
            statuses["deep body"] = r.status_code
            assert r.status_code == 413 and "嵌套" in r.json()["detail"], r.text[:300]
            r = httpx.post(
                f"{base}/api/v1/cases/multipart",
                data={"case": deep},
                files={"files": ("a.pdf", b"%PDF-1.4", "application/pdf")},
                headers=headers,
            )
            statuses["deep case field"] = r.status_code
            assert r.status_code == 413 and "嵌套" in r.json()["detail"], r.text[:300]

            room = 2**20 - len(json.dumps(data, ensure_ascii=False).encode()) - 200
            tiny_values = b'{"item": "deed-tax", "form": {"x": [' + b"[]," * (room // 3) + b"0]}}"
            long_commitment = json.dumps({**data, "commitments": ["承" * (room // 3)]}, ensure_ascii=False)
            for name, body, want in (
                ("tiny values x40", tiny_values, 413),
                ("megabyte commitments x40", long_commitment.encode(), 422),
            ):
                got = asyncio.run(_at_once(base, token, body, 40))
                statuses[name] = got
                assert got == {want: 40}, (name, got)

            upload = b"%PDF-1.4\n" + os.urandom(29 * 2**20)  # within the 30 MiB per file
            got = asyncio.run(_uploads_at_once(base, token, data, upload, 4))
            statuses["29 MiB uploads x4"] = got
            assert got == {202: 4}, got
        figures = {k: round(v) for k, v in rss.items()}
        assert rss["sampled"] < CEILING_MIB and rss["high_water"] < CEILING_MIB, (figures, statuses)
        # still serving
        r = httpx.post(f"{base}/api/v1/cases", json={**data, "case_id": "after-the-attacks"}, headers=headers)
        assert r.status_code == 202, r.text
        assert "Traceback" not in server.log_tail(1_000_000), server.log_tail(3000)
        print(f"API memory during the attacks (MiB): {figures}; answers: {statuses}")


async def _at_once(base: str, token: str, body: bytes, n: int) -> Counter[int]:
    """`n` copies of a JSON body at once, half to the submission, half to the pre-check."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120, limits=limits) as client:
        answers = await asyncio.gather(
            *(client.post("/api/v1/cases" if i % 2 else "/api/v1/decide", content=body) for i in range(n))
        )
    return Counter(r.status_code for r in answers)


async def _uploads_at_once(
    base: str, token: str, data: dict[str, object], upload: bytes, n: int
) -> Counter[int]:
    case = {**data, "documents": [{"kind": "purchase_contract", "path": "contract.pdf"}]}
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/cases/multipart",
                    data={"case": json.dumps({**case, "case_id": f"upload-{i}"}, ensure_ascii=False)},
                    files={"files": ("contract.pdf", upload, "application/pdf")},
                )
                for i in range(n)
            )
        )
    return Counter(r.status_code for r in answers)
