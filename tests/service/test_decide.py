"""The pre-check `POST /api/v1/decide`: the decision of a dry run, computed in an engine process and
awaited without a thread; a bound on the requests admitted at once (503 with Retry-After beyond
it); 503 when the engine process dies, and a new one for the next request; errors keep their
problem details; the engine processes end with the app."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_kit import SAMPLES, Env, auth, bind, sample
from sqlalchemy import update

from api.app import create_app
from api.routes import cases as routes
from engine.evaluate import DurableEvaluator
from service.cases import dry_run
from service.disclosure import applicant_view
from store.records import User

NOW = datetime(2026, 3, 2, 2, 30, tzinfo=UTC)


def _post(client: TestClient, data: dict[str, Any], user: str = "applicant") -> Any:
    return client.post("/api/v1/decide", json=data, headers=auth(user))


def _document_free(item: str) -> list[str]:
    names = []
    for path in sorted((SAMPLES / item / "cases").glob("*.json")):
        if not json.loads(path.read_text(encoding="utf-8")).get("documents"):
            names.append(path.stem)
    return names


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_answer_is_the_dry_run_decision(
    env: Env, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "_now", lambda: NOW)
    evaluator = DurableEvaluator()
    names = _document_free("deed-tax")[:12] + _document_free("safety-permit-renewal")[:6]
    assert len(names) == 18
    for name in names:
        r = _post(client, sample(name), user="rule_author")  # staff: the decision in full
        assert r.status_code == 200, (name, r.text[:500])
        assert r.headers["content-type"] == "application/json"
        got = r.json()
        want = dry_run(env.services, data=sample(name), evaluator=evaluator, now=NOW)
        assert got.pop("elapsed_ms") >= 0
        want.pop("elapsed_ms")
        assert got == want, name
        # the applicant of the case: the applicant's view of that same decision
        bind(env, "applicant", sample(name))
        r = _post(client, sample(name))
        assert r.status_code == 200, (name, r.text[:500])
        shown = applicant_view({**want, "elapsed_ms": 0.0}, case=sample(name))
        assert r.json() == shown.model_dump(mode="json"), name
    metrics = client.get("/metrics").text
    assert (
        'miaopi_http_request_seconds_count{method="POST",route="/api/v1/decide",status="200"} 36.0' in metrics
    )


def test_errors_in_the_engine_process_keep_their_problem_details(env: Env, client: TestClient) -> None:
    bind(env, "applicant", sample("dt-36-filing-not-found-with-contract"))
    r = _post(client, sample("dt-36-filing-not-found-with-contract"))
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "invalid_request" and "预审接口不读取材料文件" in body["detail"]
    assert body["problems"] == [{"path": "documents", "message": "预审不支持材料文件"}]

    bind(env, "applicant", sample("dt-01-only-home-small"))
    r = _post(client, {**sample("dt-01-only-home-small"), "item": "no-such-item"})
    assert r.status_code == 422 and r.json()["code"] == "unknown_item"
    r = _post(client, sample("dt-01-only-home-small"))  # the engine process is still there
    assert r.status_code == 200


def test_beyond_the_admission_bound_the_answer_is_503_with_retry_after(env: Env) -> None:
    settings = env.settings.model_copy(update={"engine_max_pending": 1})
    app = create_app(settings, services=env.services)
    data = sample("dt-01-only-home-small")
    with TestClient(app) as client:
        pool = app.state.engine_pool
        first: dict[str, Any] = {}
        waiter = threading.Thread(target=lambda: first.update(response=_post(client, data)))
        waiter.start()
        deadline = time.monotonic() + 30
        while pool.pending < 1:  # admitted; it waits for the engine process to start
            assert time.monotonic() < deadline, "the first request was never admitted"
            time.sleep(0.002)
        refused = _post(client, data)
        waiter.join(120)
        after = _post(client, data)
        metrics = client.get("/metrics").text

    assert first["response"].status_code == 200
    assert after.status_code == 200, "the bound is freed once the first request is answered"
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body == {
        "type": "https://miaopi.example/problems/engine_busy",
        "title": "预审请求过多",
        "status": 503,
        "detail": "当前预审请求过多（同时处理上限 1 件），请于 1 秒后重试",
        "code": "engine_busy",
        "instance": "/api/v1/decide",
    }
    assert pool.rejected == 1
    assert "miaopi_engine_rejected_total 1.0" in metrics
    assert "miaopi_engine_pending_limit 1.0" in metrics


def test_a_dead_engine_process_gives_503_and_a_new_process(client: TestClient) -> None:
    data = sample("dt-01-only-home-small")
    assert _post(client, data).status_code == 200
    pool = client.app.state.engine_pool  # type: ignore[attr-defined]
    [pid] = pool.pids
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)

    r = _post(client, data)
    assert r.status_code == 503
    assert r.json()["code"] == "engine_unavailable"
    assert r.json()["detail"] == "规则引擎进程异常退出，已重新启动，请重试"

    r = _post(client, data)
    assert r.status_code == 200
    assert pool.restarts == 1 and pool.pids and pool.pids != [pid]


def test_the_engine_processes_end_with_the_app(env: Env) -> None:
    settings = env.settings.model_copy(update={"engine_processes": 2})
    app = create_app(settings, services=env.services)
    with TestClient(app) as client:
        assert _post(client, sample("dt-01-only-home-small")).status_code == 200
        deadline = time.monotonic() + 60
        while len(app.state.engine_pool.pids) < 2:  # the second one may still be starting
            assert time.monotonic() < deadline, "the second engine process did not start"
            time.sleep(0.05)
        pids = app.state.engine_pool.pids
    assert all(_gone(pid) for pid in pids)


def test_a_token_is_looked_up_again_after_token_cache_s(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """The token cache's clock is the one of api.deps, moved forward here: how long the requests
    themselves take (the first starts an engine process) cannot make the cache expire early."""
    from api import deps

    class Clock:
        offset = 0.0

        @classmethod
        def monotonic(cls) -> float:
            return time.monotonic() + cls.offset

    monkeypatch.setattr(deps, "time", Clock)
    # the API reads its settings from the services it is given
    settings = env.settings.model_copy(update={"token_cache_s": 30.0})
    app = create_app(settings, services=dataclasses.replace(env.services, settings=settings))
    data = sample("dt-01-only-home-small")
    with TestClient(app) as client:
        assert _post(client, data).status_code == 200  # starts the engine process
        assert _post(client, data).status_code == 200  # the user is remembered from here
        with env.services.sessions.begin() as session:
            session.execute(update(User).where(User.id == "applicant").values(role="approver"))
        Clock.offset = 15.0  # half the cache's time (counted from the first request's look-up)
        assert _post(client, data).status_code == 200  # still remembered
        Clock.offset = 60.0
        r = _post(client, data)
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
        r = client.post("/api/v1/decide", json=data, headers={"Authorization": "Bearer no-such-token"})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
