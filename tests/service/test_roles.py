"""Every endpoint of the OpenAPI schema against every role and no token. A new endpoint fails the test
until it is added to the table."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_kit import ROOT, Env, auth, bind, decide_all, sample, submit
from sqlalchemy import select

from service.review import claim_task
from service.transactions import utcnow
from store.records import ResultRow, TaskRow

IDENTITIES = ("none", "applicant", "approver", "rule_author", "auditor", "admin")
PUBLIC = {
    "GET /health",
    "GET /metrics",
    "GET /api/v1/verify/{code}",
    "GET /api/v1/guide",
    "GET /api/v1/guide/{item}",
}
OWN_CASE = "dt-01-only-home-small"  # approved at once: it has a result document
REVIEW = "dt-22-name-mismatch"


@dataclass
class World:
    env: Env
    client: TestClient
    counter: int = 0
    open_tasks: list[int] = field(default_factory=list)

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def review_task(self, *, claimed_by: str | None = None) -> int:
        if not self.open_tasks:  # decide a batch of review cases in one worker run
            ids = [self.fresh("review") for _ in range(20)]
            for case_id in ids:
                submit(self.env, REVIEW, case_id=case_id)
            decide_all(self.env)
            with self.env.services.sessions() as session:
                self.open_tasks = list(session.scalars(select(TaskRow.id).where(TaskRow.case_id.in_(ids))))
        tid = self.open_tasks.pop()
        if claimed_by is not None:
            claim_task(self.env.services, user=self.env.users[claimed_by], task_id=tid, now=utcnow())
        return tid

    def result_code(self) -> str:
        with self.env.services.sessions() as session:
            return session.scalars(select(ResultRow.code).where(ResultRow.case_id == OWN_CASE)).one()


Request = Callable[[World, str], dict[str, Any]]
"""Builds the request of one call: path and keyword arguments for TestClient.request."""


def _as_own(world: World, who: str, data: dict[str, Any]) -> dict[str, Any]:
    """`data` as its applicant's own case: an applicant account is bound to the case's applicant."""
    if who in world.env.users:
        bind(world.env, who, data)
    return data


def _new_case(world: World, who: str) -> dict[str, Any]:
    data = _as_own(world, who, {**sample("dt-02-only-home-large"), "case_id": world.fresh(f"new-{who}")})
    return {"path": "/api/v1/cases", "json": data}


def _new_multipart(world: World, who: str) -> dict[str, Any]:
    data = _as_own(world, who, {**sample("dt-02-only-home-large"), "case_id": world.fresh(f"mp-{who}")})
    return {"path": "/api/v1/cases/multipart", "data": {"case": json.dumps(data, ensure_ascii=False)}}


def _pre_check(world: World, who: str) -> dict[str, Any]:
    return {"path": "/api/v1/decide", "json": _as_own(world, who, sample("dt-03-spouse-house-small"))}


def _task_action(action: str) -> Request:
    def build(world: World, who: str) -> dict[str, Any]:
        holder = who if who in ("approver", "admin") and action != "claim" else None
        tid = world.review_task(claimed_by=holder)
        req: dict[str, Any] = {"path": f"/api/v1/tasks/{tid}/{action}"}
        if action == "decide":
            req["json"] = {"outcome": "approve", "comment": "核实无误，同意"}
        return req

    return build


def _rulesets_publish(world: World, who: str) -> dict[str, Any]:
    # content that does not compile: an allowed role gets 422 without running the golden cases
    return {"path": "/api/v1/rulesets", "json": {"content": "item: {id: deed-tax"}}


def _simple(path: str, **kw: Any) -> Request:
    return lambda world, who: {"path": path, **kw}


OK, CREATED, ACCEPTED = {200}, {201}, {202}
DENIED, HIDDEN, UNAUTH = {403}, {404}, {401}

# "METHOD path" -> (request builder, expected statuses by identity)
TABLE: dict[str, tuple[Request, dict[str, set[int]]]] = {
    "POST /api/v1/cases": (
        _new_case,
        {
            "applicant": ACCEPTED,
            "admin": ACCEPTED,
            "approver": DENIED,
            "rule_author": DENIED,
            "auditor": DENIED,
        },
    ),
    "POST /api/v1/cases/multipart": (
        _new_multipart,
        {
            "applicant": ACCEPTED,
            "admin": ACCEPTED,
            "approver": DENIED,
            "rule_author": DENIED,
            "auditor": DENIED,
        },
    ),
    "GET /api/v1/cases": (
        _simple("/api/v1/cases"),
        {"applicant": OK, "approver": OK, "auditor": OK, "admin": OK, "rule_author": DENIED},
    ),
    "POST /api/v1/decide": (
        _pre_check,
        {"applicant": OK, "rule_author": OK, "admin": OK, "approver": DENIED, "auditor": DENIED},
    ),
    "GET /api/v1/cases/{case_id}": (
        _simple(f"/api/v1/cases/{OWN_CASE}"),
        {"applicant": OK, "approver": OK, "auditor": OK, "admin": OK, "rule_author": HIDDEN},
    ),
    "POST /api/v1/cases/{case_id}/rating": (
        # the approved case of the applicant: they rate it once (the table asks each identity once)
        _simple(f"/api/v1/cases/{OWN_CASE}/rating", json={"level": "satisfied", "comment": "办理顺利"}),
        {"applicant": CREATED, "approver": DENIED, "rule_author": DENIED, "auditor": DENIED, "admin": DENIED},
    ),
    "GET /api/v1/cases/{case_id}/rating": (
        _simple(f"/api/v1/cases/{OWN_CASE}/rating"),
        {"applicant": OK, "approver": OK, "auditor": OK, "admin": OK, "rule_author": HIDDEN},
    ),
    "GET /api/v1/results/{code}/pdf": (
        lambda world, who: {"path": f"/api/v1/results/{world.result_code()}/pdf"},
        {"applicant": OK, "approver": OK, "auditor": OK, "admin": OK, "rule_author": HIDDEN},
    ),
    "GET /api/v1/verify/{code}": (
        lambda world, who: {"path": f"/api/v1/verify/{world.result_code()}"},
        dict.fromkeys(IDENTITIES, OK),
    ),
    "GET /api/v1/tasks": (
        _simple("/api/v1/tasks"),
        {"approver": OK, "auditor": OK, "admin": OK, "applicant": DENIED, "rule_author": DENIED},
    ),
    "POST /api/v1/tasks/{task_id}/claim": (
        _task_action("claim"),
        {"approver": OK, "admin": OK, "applicant": DENIED, "rule_author": DENIED, "auditor": DENIED},
    ),
    "POST /api/v1/tasks/{task_id}/release": (
        _task_action("release"),
        {"approver": OK, "admin": OK, "applicant": DENIED, "rule_author": DENIED, "auditor": DENIED},
    ),
    "POST /api/v1/tasks/{task_id}/decide": (
        _task_action("decide"),
        {"approver": OK, "admin": OK, "applicant": DENIED, "rule_author": DENIED, "auditor": DENIED},
    ),
    "GET /api/v1/rulesets": (
        _simple("/api/v1/rulesets"),
        {"applicant": OK, "approver": OK, "rule_author": OK, "auditor": OK, "admin": OK},
    ),
    "POST /api/v1/rulesets": (
        _rulesets_publish,
        {"rule_author": {422}, "admin": {422}, "applicant": DENIED, "approver": DENIED, "auditor": DENIED},
    ),
    "POST /api/v1/rulesets/impact": (
        # the version in force as the candidate: the allowed roles get the (empty) report
        _simple(
            "/api/v1/rulesets/impact",
            json={"content": (ROOT / "rulesets" / "deed-tax" / "ruleset.yaml").read_text("utf-8")},
        ),
        {"rule_author": OK, "admin": OK, "applicant": DENIED, "approver": DENIED, "auditor": DENIED},
    ),
    "POST /api/v1/rulesets/{item}/rollback": (
        # one version only: the allowed roles get as far as the conflict
        _simple("/api/v1/rulesets/deed-tax/rollback"),
        {"rule_author": {409}, "admin": {409}, "applicant": DENIED, "approver": DENIED, "auditor": DENIED},
    ),
    "GET /api/v1/audit/verify": (
        _simple("/api/v1/audit/verify"),
        {"auditor": OK, "admin": OK, "applicant": DENIED, "approver": DENIED, "rule_author": DENIED},
    ),
    "GET /api/v1/guide": (_simple("/api/v1/guide"), dict.fromkeys(IDENTITIES, OK)),
    "GET /api/v1/guide/{item}": (_simple("/api/v1/guide/deed-tax"), dict.fromkeys(IDENTITIES, OK)),
    "GET /health": (_simple("/health"), dict.fromkeys(IDENTITIES, OK)),
    "GET /metrics": (_simple("/metrics"), dict.fromkeys(IDENTITIES, OK)),
}


def _operations(client: TestClient) -> set[str]:
    schema = client.app.openapi()  # type: ignore[attr-defined]
    return {f"{method.upper()} {path}" for path, ops in schema["paths"].items() for method in ops}


@pytest.fixture
def world(env: Env, client: TestClient) -> World:
    submit(env, OWN_CASE)
    decide_all(env)
    return World(env=env, client=client)


def test_the_table_lists_every_endpoint(client: TestClient) -> None:
    ops = _operations(client)
    assert sorted(ops - TABLE.keys()) == [], "endpoints missing from the role table"
    assert sorted(TABLE.keys() - ops) == [], "endpoints in the role table that no longer exist"


def test_every_endpoint_with_every_role(world: World) -> None:
    failures = []
    declared = world.client.app.openapi()["paths"]  # type: ignore[attr-defined]
    for op in sorted(_operations(world.client)):
        build, expected = TABLE[op]
        method, template = op.split(" ", 1)
        for who in IDENTITIES:
            want = expected.get(who, UNAUTH if who == "none" and op not in PUBLIC else None)
            assert want is not None, f"{op}: no expectation for {who}"
            if who == "none" and op not in PUBLIC:
                assert want == UNAUTH
            req = build(world, who)
            path = req.pop("path")
            headers = auth(who) if who != "none" else {}
            r = world.client.request(method, path, headers=headers, **req)
            if r.status_code not in want:
                failures.append(f"{op} as {who}: {r.status_code} (expected {sorted(want)}) {r.text[:200]}")
            if str(r.status_code) not in declared[template][method.lower()]["responses"]:
                failures.append(f"{op} as {who}: {r.status_code} is not declared in the schema")
            if r.status_code >= 400:
                assert r.headers["content-type"].startswith("application/problem+json"), (op, who)
            if r.status_code == 401:
                assert r.headers.get("www-authenticate") == "Bearer"
    assert failures == []


def test_a_bad_token_is_unauthenticated(client: TestClient) -> None:
    r = client.get("/api/v1/cases", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"


def test_docs_are_public(client: TestClient) -> None:
    for path in ("/docs", "/openapi.json", "/redoc"):
        assert client.get(path).status_code == 200, path


def test_applicants_see_only_their_own_cases(world: World) -> None:
    env, client = world.env, world.client
    submit(env, "sp-01-general-grade1-clean", user="applicant2")
    decide_all(env)
    mine = client.get("/api/v1/cases", headers=auth("applicant")).json()
    theirs = client.get("/api/v1/cases", headers=auth("applicant2")).json()
    assert [c["case_id"] for c in mine] == [OWN_CASE]
    assert [c["case_id"] for c in theirs] == ["sp-01-general-grade1-clean"]
    assert "*" in mine[0]["applicant"]  # masked in lists
    code = world.result_code()
    assert client.get(f"/api/v1/cases/{OWN_CASE}", headers=auth("applicant2")).status_code == 404
    assert client.get(f"/api/v1/results/{code}/pdf", headers=auth("applicant2")).status_code == 404
    assert client.get("/api/v1/cases/no-such-case", headers=auth("applicant")).status_code == 404
    # approvers see their department's cases only
    assert client.get(f"/api/v1/cases/{OWN_CASE}", headers=auth("approver_sp")).status_code == 404
    sp_cases = client.get("/api/v1/cases", headers=auth("approver_sp")).json()
    assert [c["case_id"] for c in sp_cases] == ["sp-01-general-grade1-clean"]
