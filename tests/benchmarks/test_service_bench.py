"""The service benchmarks' server: whatever way a run ends (an error in the run, the benchmark's own
process killed), no `miaopi serve` nor engine process outlives it; the load generator counts
answers, refusals and time-outs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from process_kit import wait_gone

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import service  # noqa: E402


def _tree(pid: int) -> list[int]:
    import psutil

    root = psutil.Process(pid)
    return [pid, *(p.pid for p in root.children(recursive=True))]


def test_an_error_in_the_run_stops_the_server_and_its_engine_processes() -> None:
    cases = service.document_free_cases()
    pids: list[int] = []
    with (
        pytest.raises(RuntimeError, match="the run failed"),
        service.running_service(backend="sqlite", workers=0) as server,
    ):
        service._first_request(server, cases[0])
        pids = _tree(server.proc.pid)
        assert len(pids) >= 2, "the server and its engine process"
        row = asyncio.run(
            service._offered_load(server.base, server.token, cases, rate=50, seconds=1, timeout=10)
        )
        assert row["errors"] == 0 and row["requests"] == 50 and row["p99_ms"] > 0
        raise RuntimeError("the run failed")
    assert wait_gone(pids, 5) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_a_killed_benchmark_takes_its_server_with_it(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import json, sys, time
        from benchmarks import service
        with service.running_service(backend="sqlite", workers=0) as server:
            service._first_request(server, service.document_free_cases()[0])
            print(json.dumps(server.proc.pid), flush=True)
            time.sleep(600)
        """
    )
    bench = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert bench.stdout is not None
        line = bench.stdout.readline()
        assert line, "the benchmark process ended before its server answered"
        pids = _tree(json.loads(line))
        os.kill(bench.pid, signal.SIGKILL)
        bench.wait(10)
        assert wait_gone(pids, 30) == [], "the server outlived the benchmark"
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait(10)


def test_the_load_generator_counts_refusals_and_time_outs() -> None:
    """Against a stand-in server: every third request refused with 503, every fifth never answered."""

    async def run() -> dict:
        seen = 0

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal seen
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = next(
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    )
                    await reader.readexactly(length)
                    seen += 1
                    if seen % 5 == 0:
                        await asyncio.sleep(5)
                    status = b"503 Service Unavailable" if seen % 3 == 0 else b"200 OK"
                    writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: 2\r\n\r\n{}")
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await service._offered_load(
                f"http://127.0.0.1:{port}", "t", [{"item": "x"}], rate=100, seconds=0.3, timeout=0.5
            )

    row = asyncio.run(run())
    assert row["requests"] == 30
    assert row["error_kinds"] == {"ReadTimeout": 6, "503": 8}  # 5th, 10th, ...; 3rd, 6th, 9th, 12th, ...
    assert row["errors"] == 14
    assert row["achieved_per_s"] > 0 and 0 < row["p50_ms"] <= row["p99_ms"] < 500
