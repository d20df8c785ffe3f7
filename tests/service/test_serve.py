"""`miaopi serve` as a process: /health answers 200 within a time limit; SIGINT and SIGTERM stop it
cleanly, workers included; Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while
it starts its processes stops it without a traceback. The demo's Ctrl-C: tests/miaopi/test_demo.py."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from process_kit import free_port, start_serve, wait_gone, wait_healthy


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _ignores_sigint(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_answers_health_and_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    environ = {"MIAOPI_FILES_DIR": str(tmp_path / "files"), "MIAOPI_LOG_LEVEL": "INFO"}
    proc = start_serve(f"sqlite:///{tmp_path / 'miaopi.db'}", log=log, env=environ, port=port)
    try:
        deadline = time.monotonic() + 60
        health = wait_healthy(proc, port, log)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert health.json()["database"] == "sqlite" and health.json()["rulesets"] >= 2
        while health.json()["workers"] < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
            health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
        assert health.json()["workers"] == 1
        children = _children(proc.pid)
        assert children, "the worker runs as a child process"

        proc.send_signal(sig)
        code = proc.wait(30)
        # uvicorn shuts down, then re-raises a SIGTERM it caught: death by SIGTERM after a clean shutdown
        assert code in ((0, -signal.SIGTERM) if sig == signal.SIGTERM else (0,)), log.read_text()[-3000:]
        assert "Application shutdown complete" in log.read_text()
        assert not wait_gone(list(children), 10), "a worker outlived the server"
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
        assert "Traceback" not in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_ctrl_c_while_the_server_starts_its_processes_stops_it_without_a_traceback(tmp_path: Path) -> None:
    """The terminal sends Ctrl-C to every process of the group: a worker or rule-engine process still
    importing its modules printed a KeyboardInterrupt traceback. They ignore SIGINT from the start."""
    port = free_port()
    log = tmp_path / "serve.log"
    environ = {"MIAOPI_FILES_DIR": str(tmp_path / "files")}
    proc = start_serve(f"sqlite:///{tmp_path / 'm.db'}", log=log, env=environ, port=port, new_session=True)
    try:
        deadline = time.monotonic() + 60
        # the worker, the rule-engine process and multiprocessing's resource tracker have been started,
        # and the server handles SIGINT again (it ignores it for the milliseconds of each start)
        while (len(_children(proc.pid)) < 3 or _ignores_sigint(proc.pid)) and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(0.01)
        children = _children(proc.pid)
        assert len(children) >= 3, log.read_text()[-3000:]
        time.sleep(0.3)  # they are importing their modules (a second or more)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: while the new processes are still starting up
        code = proc.wait(60)
        text = log.read_text(encoding="utf-8", errors="replace")
        assert code == 0, text[-3000:]
        assert "Traceback" not in text and "KeyboardInterrupt" not in text, text[-3000:]
        assert "ERROR" not in text, text[-3000:]  # no process was lost to the Ctrl-C either
        assert "服务已停止" in text
        assert not wait_gone(list(children), 10), "a process of the server outlived it"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
