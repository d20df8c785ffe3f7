"""Fixtures shared by the OCR tests: the paddleocr backend (the `paddle` extra), built offline.

Without the `paddleocr` package the tests that need it are skipped, unless MIAOPI_REQUIRE_PADDLE=1
(set by `make test-paddle`, which runs them in .venv-paddle): then they fail, so an environment that
lost the extra cannot pass by skipping."""

from __future__ import annotations

import importlib.util
import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from extractors.ocr import OcrBackend, get_backend


def require_paddle() -> None:
    """Return when paddleocr is importable; otherwise fail (MIAOPI_REQUIRE_PADDLE=1) or skip."""
    if importlib.util.find_spec("paddleocr") is not None:
        return
    if os.environ.get("MIAOPI_REQUIRE_PADDLE") == "1":
        pytest.fail(
            "MIAOPI_REQUIRE_PADDLE=1 but the paddleocr package is not installed (make paddle-env)",
            pytrace=False,
        )
    pytest.skip("paddleocr not installed (make paddle-env, or pip install -e '.[paddle]')")


@pytest.fixture
def paddle_gate() -> Callable[[], None]:
    """The check every paddle fixture runs first (for testing the check itself)."""
    return require_paddle


@pytest.fixture(scope="session")
def paddle_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_paddle()
    return tmp_path_factory.mktemp("paddle-models")


@pytest.fixture(scope="session")
def paddle(paddle_cache: Path) -> OcrBackend:
    """Built (model folders included) with every network connection refused and recorded."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network disabled in this test")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "create_connection", refuse)
        backend = get_backend("paddleocr", threads=2, cache_dir=paddle_cache)
    assert attempts == []
    return backend


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that need the paddleocr backend carry the `paddle` marker: `make unit` leaves them to
    `make test-paddle`, which runs them in .venv-paddle (where a missing paddleocr fails them)."""
    for item in items:
        if {"paddle", "paddle_cache"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.paddle)
