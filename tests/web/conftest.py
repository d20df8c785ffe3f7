"""Fixtures for the approvers' pages: a temp directory per module and a real uvicorn server for the
browser tests."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from web_kit import (
    APPROVED,
    OTHER_DEPARTMENT,
    OVERDUE,
    WITH_CONTRACT,
    WebEnv,
    build_env,
    free_port,
    require_chromium,
)


@pytest.fixture(scope="module")
def web_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("web")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def server(web_root: Path) -> Iterator[tuple[str, WebEnv]]:
    """The app under uvicorn on a free 127.0.0.1 port, in a thread; yields its base URL."""
    import uvicorn

    from api.app import create_app

    require_chromium()
    env = build_env(web_root, cases=[OVERDUE, WITH_CONTRACT, APPROVED, OTHER_DEPARTMENT])
    port = free_port()
    config = uvicorn.Config(
        create_app(env.settings, services=env.services), host="127.0.0.1", port=port, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", env
    finally:
        srv.should_exit = True
        thread.join(10)
        env.services.engine.dispose()
