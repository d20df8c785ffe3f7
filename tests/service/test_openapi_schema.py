"""The OpenAPI schema says what the API answers: each operation's error statuses as a Problem under
application/problem+json, the case model as the body of a submission and of the pre-check, and a
schema for every success body."""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from pydantic.json_schema import models_json_schema
from service_kit import Env, auth, bind, decide_all, sample

from engine.case import Case

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


@pytest.fixture
def schema(client: TestClient) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    document: dict[str, Any] = r.json()
    return document


def _operations(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    paths = schema["paths"].items()
    return [(f"{method.upper()} {path}", op) for path, ops in paths for method, op in ops.items()]


def test_the_schema_declares_problem_json_for_every_error_status(schema: dict[str, Any]) -> None:
    for name, op in _operations(schema):
        for status, answer in op["responses"].items():
            if int(status) >= 400:
                assert answer["content"] == PROBLEM, (name, status)
    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    assert problem["properties"]["problems"]["items"] == {"$ref": "#/components/schemas/ProblemItem"}
    # the framework's own 422 body is never answered, so it is not in the schema
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_each_operation_declares_the_errors_it_can_answer(schema: dict[str, Any]) -> None:
    errors = {name: {int(s) for s in op["responses"] if int(s) >= 400} for name, op in _operations(schema)}
    for name, op in _operations(schema):
        if op.get("security"):
            assert 401 in errors[name], name
            assert op["responses"]["401"]["headers"]["WWW-Authenticate"]["required"] is True
        if "requestBody" in op:
            assert {400, 413, 422} <= errors[name], name
    assert errors["POST /api/v1/cases"] == {400, 401, 403, 409, 413, 422}
    assert errors["POST /api/v1/cases/multipart"] == {400, 401, 403, 409, 413, 415, 422}
    assert errors["POST /api/v1/decide"] == {400, 401, 403, 413, 422, 503}
    assert errors["GET /api/v1/cases/{case_id}"] == {401, 404}
    assert errors["POST /api/v1/cases/{case_id}/rating"] == {400, 401, 403, 404, 409, 413, 422}
    assert errors["GET /api/v1/cases/{case_id}/rating"] == {401, 404}
    assert errors["POST /api/v1/tasks/{task_id}/claim"] == {401, 403, 404, 409, 422}
    assert errors["POST /api/v1/rulesets/{item}/rollback"] == {401, 403, 404, 409}
    assert errors["GET /api/v1/verify/{code}"] == {404}
    assert errors["GET /health"] == {503}
    assert errors["GET /metrics"] == set()


def test_the_case_body_is_the_case_model(schema: dict[str, Any]) -> None:
    for name in ("POST /api/v1/cases", "POST /api/v1/decide"):
        body = dict(_operations(schema))[name]["requestBody"]
        assert body["required"] is True
        assert body["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Case", name
    _, top = models_json_schema([(Case, "validation")], ref_template="#/components/schemas/{model}")
    for model, definition in top["$defs"].items():
        assert schema["components"]["schemas"][model] == definition, model
    case = schema["components"]["schemas"]["Case"]
    assert set(case["required"]) == {"item", "submitted_at", "applicant", "form"}
    assert case["additionalProperties"] is False
    multipart = schema["components"]["schemas"]["Body_submit_multipart_api_v1_cases_multipart_post"]
    assert multipart["properties"]["case"]["contentSchema"] == {"$ref": "#/components/schemas/Case"}


def test_every_success_body_has_a_schema(schema: dict[str, Any]) -> None:
    for name, op in _operations(schema):
        for status, answer in op["responses"].items():
            if int(status) >= 400:
                continue
            for media, content in answer["content"].items():
                body = content["schema"]
                assert body, (name, status, media)  # never the empty schema (any JSON)
                if media == "application/json":
                    assert "$ref" in body or body.get("type") == "array", (name, status, body)
    ok = {
        name: op["responses"]["200"]["content"]["application/json"]["schema"]
        for name, op in _operations(schema)
        if "application/json" in op["responses"].get("200", {}).get("content", {})
    }
    assert ok["POST /api/v1/decide"] == {"$ref": "#/components/schemas/PreCheckAnswer"}
    assert schema["components"]["schemas"]["PreCheckAnswer"]["anyOf"] == [
        {"$ref": "#/components/schemas/Decision"},
        {"$ref": "#/components/schemas/ApplicantDecision"},
    ]
    assert ok["GET /api/v1/cases/{case_id}"] == {"$ref": "#/components/schemas/CaseView"}
    assert ok["GET /api/v1/rulesets"]["items"] == {"$ref": "#/components/schemas/RulesetItem"}
    view = schema["components"]["schemas"]["CaseView"]["properties"]["decision"]
    assert {"$ref": "#/components/schemas/Decision"} in view["anyOf"]
    assert {"$ref": "#/components/schemas/ApplicantDecision"} in view["anyOf"]


def test_the_answers_match_their_declared_schemas(env: Env, client: TestClient) -> None:
    """Real answers the generated requests of tests/service/test_schemathesis.py seldom reach (a case
    view with its decision, the pre-check's decision), and a problem of each kind, validated against
    the schema the API publishes."""
    api = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    declared = client.get("/openapi.json").json()["paths"]

    def check(method: str, path: str, r: Any) -> None:
        assert str(r.status_code) in declared[path][method.lower()]["responses"], (method, path, r.text)
        api[path][method].validate_response(r)  # raises when the body is not as declared

    data = sample("dt-03-spouse-house-small")
    data.pop("case_id", None)
    bind(env, "applicant", data)
    for who in ("applicant", "rule_author"):  # the applicant's view, and the full decision
        r = client.post("/api/v1/decide", json=data, headers=auth(who))
        assert r.status_code == 200, r.text
        check("POST", "/api/v1/decide", r)
    r = client.post("/api/v1/cases", json=data, headers=auth("applicant"))
    assert r.status_code == 202, r.text
    check("POST", "/api/v1/cases", r)
    decide_all(env)
    for who in ("applicant", "admin"):
        view = client.get(r.headers["location"], headers=auth(who))
        assert view.json()["decision"]["outcome"] in ("approved", "review", "returned", "rejected")
        check("GET", "/api/v1/cases/{case_id}", view)
    check("GET", "/api/v1/rulesets", client.get("/api/v1/rulesets", headers=auth("applicant")))
    applicant = auth("applicant")
    problems = [
        ("GET", "/api/v1/cases", client.get("/api/v1/cases", headers={"Authorization": "Bearer nope"})),
        ("GET", "/api/v1/tasks", client.get("/api/v1/tasks", headers=applicant)),
        ("GET", "/api/v1/cases/{case_id}", client.get("/api/v1/cases/NOBODY", headers=applicant)),
        ("POST", "/api/v1/cases", client.post("/api/v1/cases", json={"item": "deed-tax"}, headers=applicant)),
        ("GET", "/api/v1/cases", client.get("/api/v1/cases?limit=0", headers=applicant)),
    ]
    assert [r.status_code for _, _, r in problems] == [401, 403, 404, 422, 422]
    for method, path, r in problems:
        assert r.headers["content-type"].startswith("application/problem+json")
        check(method, path, r)


def test_a_submission_time_must_be_an_iso_text_as_the_schema_says(client: TestClient) -> None:
    data = sample("dt-01-only-home-small")
    data.pop("case_id", None)
    for when in (1763690400, "1763690400", 1763690400.5):
        r = client.post("/api/v1/cases", json={**data, "submitted_at": when}, headers=auth("applicant"))
        assert r.status_code == 422, (when, r.text)
        assert [p["path"] for p in r.json()["problems"]] == ["submitted_at"], when
    r = client.post("/api/v1/cases", json=data, headers=auth("applicant"))
    assert r.status_code == 202, r.text


def test_a_ruleset_as_long_as_the_schema_allows_fits_the_body_limit(
    client: TestClient, schema: dict[str, Any]
) -> None:
    longest = schema["components"]["schemas"]["PublishIn"]["properties"]["content"]["maxLength"]
    widest = "\U0001f600"  # written in JSON as an escaped surrogate pair, 12 bytes
    for content, status in ((widest * longest, 422), (widest * (longest + 1), 422)):
        body = json.dumps({"content": content}, ensure_ascii=True).encode()
        assert len(body) > 12 * longest
        headers = {**auth("admin"), "Content-Type": "application/json"}
        r = client.post("/api/v1/rulesets", content=body, headers=headers)
        # refused for what it says (it does not compile, or it is too long), not for its size
        assert r.status_code == status, r.text[:300]
        assert r.json()["code"] == "invalid_request"
