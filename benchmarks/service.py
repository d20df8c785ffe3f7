"""Service benchmarks: decisions over HTTP at fixed offered loads, and one case with a two-page scanned
contract from submission to decision.

The service runs as `miaopi serve` in its own process on 127.0.0.1, exactly as deployed on the
embedded default (or on PostgreSQL), with its shared data loaded. The load generator is open-loop:
request i is due at t0 + i/rate whatever happened to the earlier ones, and its latency is counted
from that due time, so a server that falls behind shows it in the percentiles (no coordinated
omission).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("MIAOPI_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base: str
    token: str
    proc: subprocess.Popen[bytes]
    db_url: str


def _database(backend: str, tmp: Path) -> tuple[str, Callable[[], None]]:
    """A fresh database URL for `backend` and a function that removes it."""
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'bench.db'}", lambda: None
    from sqlalchemy import text

    from store.db import create_engine_for

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine_for(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}", drop


@contextlib.contextmanager
def running_service(*, backend: str, workers: int, engine_processes: int = 1) -> Iterator[Server]:
    """`miaopi serve` on a fresh database with the sample shared data and a benchmark user."""
    from miaopi.settings import Settings
    from miaopi.workflow import add_user, create_services, utcnow
    from store.loader import load_directory

    with tempfile.TemporaryDirectory(prefix="miaopi-bench-") as tmp_name:
        tmp = Path(tmp_name)
        url, drop = _database(backend, tmp)
        try:
            settings = Settings(database_url=url, files_dir=tmp / "files")
            services = create_services(settings)
            load_directory(services.engine, ROOT / "samples" / "shared-data")
            token = uuid.uuid4().hex
            add_user(
                services,
                user_id="bench",
                display_name="压测",
                role="applicant",
                department=None,
                password=None,
                token=token,
                now=utcnow(),
            )
            services.engine.dispose()
            port = _free_port()
            env = {
                **os.environ,
                "MIAOPI_FILES_DIR": str(tmp / "files"),
                "MIAOPI_LOG_LEVEL": "WARNING",
                "MIAOPI_ENGINE_PROCESSES": str(engine_processes),
                "MIAOPI_WORKER_POLL_S": "0.05",
            }
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "miaopi.cli",
                    "serve",
                    "--port",
                    str(port),
                    "--db",
                    url,
                    "--workers",
                    str(workers),
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            base = f"http://127.0.0.1:{port}"
            try:
                _wait_healthy(base, proc)
                yield Server(base=base, token=token, proc=proc, db_url=url)
            finally:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        finally:
            drop()


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode("utf-8", "replace")[-2000:] if proc.stderr else ""
            raise RuntimeError(f"miaopi serve exited with {proc.returncode}: {err}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("miaopi serve did not become healthy in time")


def _first_request(server: Server, case: dict[str, Any]) -> None:
    import httpx

    r = httpx.post(
        f"{server.base}/api/v1/decide",
        json=case,
        timeout=120,
        headers={"Authorization": f"Bearer {server.token}"},
    )
    r.raise_for_status()


def document_free_cases(item: str = "deed-tax") -> list[dict[str, Any]]:
    cases = []
    for path in sorted((ROOT / "samples" / item / "cases").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if not data.get("documents"):
            cases.append(data)
    return cases


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


async def _offered_load(
    base: str, token: str, cases: list[dict[str, Any]], *, rate: float, seconds: float, timeout: float
) -> dict[str, Any]:
    import httpx

    n = max(1, int(rate * seconds))
    latencies: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=timeout, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05

        async def one(i: int) -> None:
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                r = await client.post("/api/v1/decide", json=cases[i % len(cases)])
                if r.status_code != 200:
                    errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
                    return
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            latencies.append((loop.time() - due) * 1000)

        began = loop.time()
        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = loop.time() - began
    return {
        "offered_per_s": rate,
        "requests": n,
        "achieved_per_s": round(len(latencies) / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2) if latencies else float("nan"),
        "errors": sum(errors.values()),
        "error_kinds": errors,
    }


def run_http_decide(
    *, loads: list[float], seconds: float, backends: list[str], warmup: int, advance: Callable[[float], None]
) -> dict[str, Any]:
    cases = document_free_cases()
    figures: dict[str, Any] = {}
    series: dict[str, list[dict[str, Any]]] = {}
    for backend in backends:
        with running_service(backend=backend, workers=0) as server:
            _first_request(server, cases[0])  # starts the rule-engine process before any load
            asyncio.run(
                _offered_load(server.base, server.token, cases, rate=50, seconds=warmup / 50, timeout=30)
            )
            rows = []
            for rate in loads:
                row = asyncio.run(
                    _offered_load(server.base, server.token, cases, rate=rate, seconds=seconds, timeout=10)
                )
                rows.append(row)
                advance(1)
                key = f"{backend}_{int(rate)}"
                figures[f"{key}_p99_ms"] = row["p99_ms"]
                figures[f"{key}_errors"] = row["errors"]
                figures[f"{key}_achieved_per_s"] = row["achieved_per_s"]
            series[backend] = rows
    figures["_series"] = series
    return figures


def plot_http(series: dict[str, list[dict[str, Any]]], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for backend, rows in series.items():
        xs = [r["offered_per_s"] for r in rows]
        for q, style in (("p50_ms", ":"), ("p95_ms", "--"), ("p99_ms", "-")):
            ax.plot(xs, [r[q] for r in rows], style, marker="o", label=f"{backend} {q[:-3]}")
    ax.axhline(25, color="grey", linewidth=0.8)
    ax.set_xlabel("offered load (decisions/s)")
    ax.set_ylabel("latency (ms, from scheduled send)")
    ax.set_yscale("log")
    ax.set_title("POST /api/v1/decide on 127.0.0.1")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "http_decide.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def run_case_end_to_end(*, repeats: int, advance: Callable[[float], None]) -> dict[str, Any]:
    """dt-36 with its contract as a two-page scanned PDF, submitted with the file; time until the
    worker has read both pages (OCR), looked up the registries, decided and recorded it."""
    import httpx

    case_path = ROOT / "samples" / "deed-tax" / "cases" / "dt-36-filing-not-found-with-contract.json"
    scan = ROOT / "samples" / "documents" / "purchase_contract" / "pc-30-dt-36.pdf"
    base_case = json.loads(case_path.read_text(encoding="utf-8"))
    expected = json.loads((ROOT / "samples" / "deed-tax" / "expected.json").read_text(encoding="utf-8"))
    want = expected[case_path.stem]["outcome"]
    times: list[float] = []
    outcomes: list[str] = []
    with running_service(backend="sqlite", workers=1) as server:
        headers = {"Authorization": f"Bearer {server.token}"}
        for i in range(repeats + 1):  # the first one warms the OCR process up and is not counted
            data = {
                **base_case,
                "case_id": f"e2e-{i}-{uuid.uuid4().hex[:6]}",
                "documents": [{"kind": "purchase_contract", "path": "contract.pdf"}],
            }
            t0 = time.perf_counter()
            r = httpx.post(
                f"{server.base}/api/v1/cases/multipart?wait=30",
                headers=headers,
                timeout=60,
                data={"case": json.dumps(data, ensure_ascii=False)},
                files=[("files", ("contract.pdf", scan.read_bytes(), "application/pdf"))],
            )
            elapsed = time.perf_counter() - t0
            r.raise_for_status()
            status = httpx.get(
                f"{server.base}/api/v1/cases/{data['case_id']}", headers=headers, timeout=30
            ).json()
            if status["status"] != "decided":
                raise RuntimeError(f"case {data['case_id']} not decided within the wait: {status['status']}")
            if i == 0:
                continue
            times.append(elapsed)
            outcomes.append(status["outcome"])
            advance(1)
    return {
        "repeats": len(times),
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
        "outcomes": sorted(set(outcomes)),
        "agrees_with_expected": all(o == want for o in outcomes),
        "pages": 2,
    }
