"""A bounded schemathesis run over the OpenAPI schema with an admin token: no request makes a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from service_kit import auth, decide_all, make_env, submit

from api.app import create_app
from service.settings import Settings


@pytest.fixture(scope="module")
def api_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root: Path = tmp_path_factory.mktemp("schemathesis")
    env = make_env(Settings(database_url=f"sqlite:///{root / 'miaopi.db'}", files_dir=root / "files"))
    for name in ("dt-01-only-home-small", "dt-22-name-mismatch"):
        submit(env, name)
    decide_all(env)
    app = create_app(env.settings, services=env.services)
    with TestClient(app):  # runs the lifespan: the app as it serves
        yield app
    env.services.engine.dispose()


def test_no_server_errors(api_app: Any) -> None:
    """Each operation of the schema, 25 deterministic examples, checked for 5xx only (the pytest
    plugin's lazy fixture loader does not work with this pytest; the strategies are driven directly)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", api_app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len([m for ops in api_app.openapi()["paths"].values() for m in ops])
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=auth("admin"), checks=[not_a_server_error])

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert failures == [], "\n\n".join(failures)
