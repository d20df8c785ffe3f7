"""Fixtures of the service tests: the wired services on every backend (shared data loaded, a user of
every role), and a TestClient on the app."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_kit import Env, make_env, open_env
from sqlalchemy.engine import make_url

from api.app import create_app
from service.audit import KEY_FILE
from service.settings import Settings


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        files_dir=tmp_path / "files",
        worker_poll_s=0.1,
        claim_idle_minutes=30,
        post_check_rate=0.0,
        token_cache_s=0.0,  # a binding a test changes (service_kit.bind) is seen by the next request
    )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database made once (migrated, shared data loaded, rulesets seeded, users added), copied
    for each test: the same state make_env builds, without its cost per test."""
    root = tmp_path_factory.mktemp("template")
    env = make_env(Settings(database_url=f"sqlite:///{root / 'miaopi.db'}", files_dir=root / "files"))
    env.services.engine.dispose()
    assert not (root / "miaopi.db-wal").exists() or (root / "miaopi.db-wal").stat().st_size == 0
    return root / "miaopi.db"


@pytest.fixture
def env(backend: str, settings: Settings, sqlite_template: Path, tmp_path: Path) -> Iterator[Env]:
    if backend == "sqlite":
        target = make_url(settings.database_url).database
        assert target is not None
        shutil.copyfile(sqlite_template, target)
        # the key that signed the template's audit trail (generated in its files folder)
        settings.files_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sqlite_template.parent / "files" / KEY_FILE, settings.files_dir / KEY_FILE)
        env = open_env(settings)
    else:
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
