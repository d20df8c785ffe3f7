"""`miaopi serve` behind a reverse proxy: the client's address is the one the trusted proxy forwards, so
sign-in throttling per address pauses the guessing client and not everyone behind the proxy."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from process_kit import free_port, start_serve, wait_healthy

from service.container import create_services
from service.settings import Settings
from service.transactions import utcnow
from service.users import add_user

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORD = "proxy-test-password-1"


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
    port = free_port()
    environ = {
        "MIAOPI_FILES_DIR": str(tmp_path / "files"),
        "MIAOPI_SIGN_IN_FAILURES": "2",  # so 8 wrong passwords from one address pause that address
        "MIAOPI_FORWARDED_ALLOW_IPS": "127.0.0.1",
    }
    log = tmp_path / "serve.log"
    proc = start_serve(url, log=log, env=environ, port=port, workers=0)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_healthy(proc, port, log).status_code == 200
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
