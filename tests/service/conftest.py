"""Fixtures of the service tests: the wired services on every backend (shared data loaded, a user of
every role), and a TestClient on the app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_kit import Env, make_env

from api.app import create_app
from miaopi.settings import Settings


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        files_dir=tmp_path / "files",
        worker_poll_s=0.1,
        claim_idle_minutes=30,
        post_check_rate=0.0,
    )


@pytest.fixture
def env(settings: Settings) -> Iterator[Env]:
    env = make_env(settings)
    try:
        yield env
    finally:
        env.services.engine.dispose()


@pytest.fixture
def client(env: Env) -> Iterator[TestClient]:
    app = create_app(env.settings, services=env.services)
    with TestClient(app) as c:
        yield c
