"""A burst against `miaopi serve` as deployed: concurrent submissions and reads get no 5xx, and every
acknowledged case is decided exactly once.

The defect this guards against: the sign-in dependency held one pooled database connection for the
whole request while the submission opened a second, so 20 concurrent submissions exhausted the pool
(5 + 10 connections) and were answered 500 after its 30-second timeout; 90 concurrent reads timed out
the same way. A request now holds at most one connection, and only while it uses it.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
from service_kit import ROOT

from benchmarks.service import running_service

CASE = ROOT / "samples" / "deed-tax" / "cases" / "dt-01-only-home-small.json"
SUBMISSIONS = 60
READS = 90


async def _burst(base: str, token: str, case: dict[str, Any], run: str) -> tuple[list[int], list[int]]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=SUBMISSIONS + READS)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60, limits=limits) as client:

        async def submit(i: int) -> int:
            r = await client.post("/api/v1/cases", json={**case, "case_id": f"burst-{run}-{i}"})
            return r.status_code

        async def read() -> int:
            r = await client.get("/api/v1/cases", params={"limit": 20})
            return r.status_code

        submitted = asyncio.gather(*(submit(i) for i in range(SUBMISSIONS)))
        reads = asyncio.gather(*(read() for _ in range(READS)))
        return list(await submitted), list(await reads)


def test_a_burst_of_submissions_and_reads_gets_no_server_error(backend: str) -> None:
    """`backend` (tests/conftest.py): SQLite and PostgreSQL."""
    case = json.loads(CASE.read_text(encoding="utf-8"))
    case.pop("case_id", None)
    run = f"{int(time.time())}"
    with running_service(backend=backend, workers=1) as server:
        started = time.monotonic()
        submitted, reads = asyncio.run(_burst(server.base, server.token, case, run))
        took = time.monotonic() - started
        log = Path(server.log_path).read_text(encoding="utf-8", errors="replace")
        assert sorted(set(submitted)) == [202], (submitted, log[-2000:])
        assert sorted(set(reads)) == [200], (reads, log[-2000:])
        assert took < 25, f"the burst took {took:.1f} s: requests queued on the connection pool"
        headers = {"Authorization": f"Bearer {server.token}"}
        deadline = time.monotonic() + 120
        pending = {f"burst-{run}-{i}" for i in range(SUBMISSIONS)}
        outcomes: dict[str, str] = {}
        while pending and time.monotonic() < deadline:
            for case_id in sorted(pending):
                r = httpx.get(f"{server.base}/api/v1/cases/{case_id}", headers=headers, timeout=10)
                assert r.status_code == 200, r.text
                body = r.json()
                if body["status"] == "decided":
                    outcomes[case_id] = body["decision"]["outcome"]
                    pending.discard(case_id)
            time.sleep(0.2)
        assert not pending, f"{len(pending)} acknowledged cases not decided in time"
        assert set(outcomes.values()) == {"approved"}  # the same sample case, decided alike each time
        listed = httpx.get(
            f"{server.base}/api/v1/cases", params={"limit": 500}, headers=headers, timeout=10
        ).json()
        ids = [c["case_id"] for c in listed if c["case_id"].startswith(f"burst-{run}-")]
        assert sorted(ids) == sorted(outcomes)  # each case once
