"""Service benchmarks: decisions over HTTP at fixed offered loads, and one case with a two-page scanned
contract from submission to decision.

The service runs as `miaopi serve` in its own process on 127.0.0.1, exactly as deployed on the
embedded default (or on PostgreSQL), with its shared data loaded. The load generator is open-loop:
request i is due at t0 + i/rate whatever happened to the earlier ones, and its latency is counted
from that due time, so a server that falls behind shows it in the percentiles (no coordinated
omission).

Why one module of this length: the running server fixture, the open-loop load generator and the two
scenarios that use them form one benchmark."""

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
    log_path: Path
    launch: Callable[[], subprocess.Popen[bytes]] | None = None
    """Starts `miaopi serve` again as it was started (same database, files, port and settings)."""

    def kill(self) -> None:
        """SIGKILL to the server and every process it started (its process group: the API, the
        workers, the rule-engine and OCR processes), as a crash of the machine would end them."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def restart(self) -> None:
        """Start the server again on the same database (after `kill`); return once /health answers.
        Call it from the thread that started the server: the server ends with that thread
        (PR_SET_PDEATHSIG, see _LAUNCH)."""
        assert self.launch is not None, "a server started by running_service"
        self.proc = self.launch()
        _wait_healthy(self.base, self.proc, self.log_path)

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server and the processes it started (engines, workers)."""
        import psutil

        total = 0.0
        try:
            root = psutil.Process(self.proc.pid)
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    total += t.user + t.system
        except psutil.Error:
            pass
        return total

    def log_tail(self, chars: int = 1500) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]


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
def running_service(
    *, backend: str, workers: int, engine_processes: int = 1, environ: dict[str, str] | None = None
) -> Iterator[Server]:
    """`miaopi serve` on a fresh database with the sample shared data and a benchmark user; `environ`
    adds settings (MIAOPI_*) of its own."""
    from service.container import create_services
    from service.settings import Settings
    from service.transactions import utcnow
    from service.users import add_user
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
                role="admin",  # staff: submits the sample cases of every applicant
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
                "MIAOPI_BENCH_PARENT": str(os.getpid()),
                **(environ or {}),
            }
            log_path = tmp / "serve.log"

            def launch() -> subprocess.Popen[bytes]:
                with log_path.open("ab") as log:
                    return subprocess.Popen(
                        [
                            sys.executable,
                            "-c",
                            _LAUNCH,
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
                        stderr=log,  # a file, never a pipe: a full pipe would stop the server mid-run
                        start_new_session=True,
                    )

            base = f"http://127.0.0.1:{port}"
            server = Server(
                base=base, token=token, proc=launch(), db_url=url, log_path=log_path, launch=launch
            )
            try:
                _wait_healthy(base, server.proc, log_path)
                yield server
            finally:
                stop(server.proc)
        finally:
            drop()


_LAUNCH = """
import os, signal, sys
if sys.platform.startswith("linux"):
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != int(os.environ["MIAOPI_BENCH_PARENT"]):
        sys.exit("the benchmark ended before the server started")
os.execv(sys.executable, [sys.executable, "-m", "miaopi.cli", *sys.argv[1:]])
"""
"""Starts `python -m miaopi.cli ARGS` so that it receives SIGTERM (a clean shutdown) when the
benchmark's process ends in any way, SIGKILL and timeouts included."""


def stop(proc: subprocess.Popen[bytes], *, grace: float = 20) -> None:
    """Stop `miaopi serve` and everything it started: SIGINT (a clean shutdown), then SIGKILL to its
    whole process group (it runs in a session of its own) so that no engine or worker process
    outlives a benchmark, whatever state the server was in."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
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


class _Connection:
    """One keep-alive HTTP/1.1 connection of the load generator."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.last_used = 0.0

    async def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        """Send one request; the status, the body and whether the connection may be reused."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                parts.append(await self.reader.readexactly(size + 2))
            await self.reader.readuntil(b"\r\n")
            body = b"".join(p[:-2] for p in parts)
        else:
            body = await self.reader.read()
            return status, body, False
        return status, body, headers.get("connection", "").lower() != "close"

    def close(self) -> None:
        self.writer.close()


def _requests(base: str, token: str, path: str, cases: list[dict[str, Any]]) -> list[bytes]:
    host = base.split("://", 1)[1]
    out = []
    for case in cases:
        body = json.dumps(case, ensure_ascii=False).encode("utf-8")
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode("ascii") + body)
    return out


KEEPALIVE_EXPIRY_S = 4.0


async def _offered_load(
    base: str,
    token: str,
    cases: list[dict[str, Any]],
    *,
    rate: float,
    seconds: float,
    timeout: float,
    max_connections: int = 512,
) -> dict[str, Any]:
    """Open loop: request i is due at t0 + i/rate; its latency runs from that due time to the last
    byte of the answer. The client is lean on purpose (pre-encoded requests on keep-alive
    connections, asyncio streams): it shares the cores with the server, and a general-purpose client
    such as httpx spends several times the server's CPU per request, which the server's figures
    would then carry. A request that finds all `max_connections` busy opens none and is counted as an
    error (ConnectionLimit), as is one without an answer within `timeout` seconds (ReadTimeout)."""
    host, port = base.split("://", 1)[1].rsplit(":", 1)
    n = max(1, int(rate * seconds))
    requests = _requests(base, token, "/api/v1/decide", cases)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    idle: list[_Connection] = []
    opened = peak = 0
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    def error(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    async def one(i: int) -> None:
        nonlocal opened, peak
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        conn: _Connection | None = None
        try:
            async with asyncio.timeout(timeout):
                # like a general-purpose client's pool (httpx: keepalive_expiry 5 s), a connection
                # idle for longer than the server keeps one open (uvicorn: 5 s) is not reused
                while idle and loop.time() - idle[-1].last_used > KEEPALIVE_EXPIRY_S:
                    idle.pop().close()
                    opened -= 1
                if idle:
                    conn = idle.pop()
                elif opened >= max_connections:
                    error("ConnectionLimit")
                    return
                else:
                    opened += 1
                    peak = max(peak, opened)
                    try:
                        conn = _Connection(*await asyncio.open_connection(host, int(port)))
                    except BaseException:
                        opened -= 1
                        raise
                status, _body, reusable = await conn.exchange(requests[i % len(requests)])
        except TimeoutError:
            error("ReadTimeout")
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            error(type(exc).__name__)
        else:
            assert conn is not None
            if reusable:
                conn.last_used = loop.time()
                idle.append(conn)
                conn = None
            if status != 200:
                error(str(status))
                return
            latencies.append((loop.time() - due) * 1000)
            return
        finally:
            if conn is not None:
                conn.close()
                opened -= 1

    began = loop.time()
    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = loop.time() - began
    for conn in idle:
        conn.close()
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
        "connections": peak,
    }


def postgres_unavailable() -> str | None:
    """Why the benchmark PostgreSQL server cannot be used, or None when it answers."""
    from sqlalchemy import text

    from store.db import create_engine_for

    try:
        engine = create_engine_for(PG_URL)
        try:
            with engine.connect() as conn:
                conn.execute(text("select 1"))
        finally:
            engine.dispose()
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def run_http_decide(
    *,
    loads: list[float],
    seconds: float,
    backends: list[str],
    warmup: int,
    advance: Callable[[float], None],
    engine_processes: int = 1,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """`POST /api/v1/decide` at each offered load in turn, on each backend (one server per backend,
    warmed up first). Figures per backend and load: `{backend}_{load}_p99_ms`, `..._errors`,
    `..._achieved_per_s`; the rows (with p50/p95, the kinds of errors and the server's CPU time per
    request, engine processes included) go to the plot. A PostgreSQL server that does not answer is
    reported (`postgresql_skipped`), not a failure."""
    cases = document_free_cases()
    figures: dict[str, Any] = {"engine_processes": engine_processes}
    series: dict[str, list[dict[str, Any]]] = {}
    for backend in backends:
        if backend == "postgresql" and (why := postgres_unavailable()):
            figures[f"{backend}_skipped"] = why
            advance(len(loads))
            continue
        with running_service(backend=backend, workers=0, engine_processes=engine_processes) as server:
            _first_request(server, cases[0])  # starts the rule-engine process before any load
            asyncio.run(
                _offered_load(server.base, server.token, cases, rate=50, seconds=warmup / 50, timeout=30)
            )
            figures[f"{backend}_load_average"] = [round(x, 2) for x in os.getloadavg()]
            rows = []
            for rate in loads:
                cpu = server.cpu_seconds()
                row = asyncio.run(
                    _offered_load(
                        server.base, server.token, cases, rate=rate, seconds=seconds, timeout=timeout
                    )
                )
                row["server_cpu_ms_per_request"] = round(
                    (server.cpu_seconds() - cpu) * 1000 / row["requests"], 3
                )
                rows.append(row)
                advance(1)
                key = f"{backend}_{int(rate)}"
                figures[f"{key}_p50_ms"] = row["p50_ms"]
                figures[f"{key}_p99_ms"] = row["p99_ms"]
                figures[f"{key}_errors"] = row["errors"]
                figures[f"{key}_achieved_per_s"] = row["achieved_per_s"]
            if any(r["errors"] for r in rows) and "Traceback" in server.log_tail(100_000):
                figures[f"{backend}_server_log_tail"] = server.log_tail()
            series[backend] = rows
    figures["_series"] = series
    return figures


def plot_http(series: dict[str, list[dict[str, Any]]], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for (backend, rows), colour in zip(series.items(), ("tab:blue", "tab:orange", "tab:green"), strict=False):
        xs = [r["offered_per_s"] for r in rows]
        for q, style in (("p50_ms", ":"), ("p95_ms", "--"), ("p99_ms", "-")):
            ax.plot(xs, [r[q] for r in rows], style, color=colour, marker="o", label=f"{backend} {q[:-3]}")
        for r in rows:
            if r["errors"]:
                ax.annotate(
                    f"{r['errors']} err",
                    (r["offered_per_s"], r["p99_ms"]),
                    fontsize=6,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
    ax.axhline(25, color="grey", linewidth=0.8, label="target p99 25 ms")
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
