"""`miaopi serve` behind a reverse proxy: the client's address is the one the trusted proxy forwards, so
sign-in throttling per address pauses the guessing client and not everyone behind the proxy."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from service_kit import ROOT

from service.container import create_services
from service.settings import Settings
from service.transactions import utcnow
from service.users import add_user

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORD = "proxy-test-password-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _sign_in(base: str, user_id: str, password: str, forwarded_for: str) -> int:
    headers = {"X-Forwarded-For": forwarded_for}
    with httpx.Client(base_url=base, headers=headers, follow_redirects=False, timeout=10) as client:
        token = CSRF.search(client.get("/login").text)
        assert token is not None
        data = {"user_id": user_id, "password": password, "csrf": token.group(1), "next": "/queue"}
        return client.post("/login", data=data).status_code


def test_sign_in_throttling_counts_the_forwarded_address_of_a_trusted_proxy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'miaopi.db'}"
    services = create_services(Settings(database_url=url, files_dir=tmp_path / "files"))
    add_user(
        services,
        user_id="clerk",
        display_name="窗口",
        role="approver",
        department="tax",
        password=PASSWORD,
        token=None,
        now=utcnow(),
    )
    services.engine.dispose()
    port = _free_port()
    environ = {
        **os.environ,
        "MIAOPI_FILES_DIR": str(tmp_path / "files"),
        "MIAOPI_SIGN_IN_FAILURES": "2",  # so 8 wrong passwords from one address pause that address
        "MIAOPI_FORWARDED_ALLOW_IPS": "127.0.0.1",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "miaopi.cli", "serve", "--port", str(port), "--db", url, "--workers", "0"],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        guesser, colleague = "203.0.113.7", "203.0.113.8"
        # one account each, so only the per-address limit (4 × 2) can pause them
        statuses = [_sign_in(base, f"nobody{i}", "wrong", guesser) for i in range(8)]
        assert statuses == [401] * 8
        assert _sign_in(base, "clerk", PASSWORD, guesser) == 429
        # another client behind the same proxy is not paused by the guesser's failures
        assert _sign_in(base, "clerk", PASSWORD, colleague) == 303
    finally:
        proc.terminate()
        proc.wait(30)
