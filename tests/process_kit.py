"""Process helpers shared by the tests that start servers and engine processes (not a test module;
the tests folder is on sys.path through its root conftest)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, ended and awaiting its parent, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_gone(pids: list[int], seconds: float) -> list[int]:
    """Wait up to `seconds` for every process to end; the ones still running."""
    deadline = time.monotonic() + seconds
    while (left := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def free_port() -> int:
    """A TCP port nothing listens on at the moment of asking."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_serve(
    db_url: str,
    *,
    log: Path,
    env: dict[str, str],
    port: int,
    workers: int | None = None,
    new_session: bool = False,
) -> subprocess.Popen[bytes]:
    """`miaopi serve` as a child process of the test, its output in `log`; `env` is added to the
    test's environment (files folder, settings under test)."""
    argv = [sys.executable, "-m", "miaopi.cli", "serve", "--port", str(port), "--db", db_url]
    if workers is not None:
        argv += ["--workers", str(workers)]
    with log.open("wb") as out:
        return subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,  # a process group of its own, as a shell gives a command
        )


def wait_healthy(proc: subprocess.Popen[bytes], port: int, log: Path, seconds: float = 60) -> httpx.Response:
    """The first answer of /health; fails with the server's last output if it ended or did not answer."""
    deadline = time.monotonic() + seconds
    while True:
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
