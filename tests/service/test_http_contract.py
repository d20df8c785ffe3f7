"""What the HTTP API answers beside its operations' own work: a method a path does not support is a
405 naming in `Allow` every method the path supports."""

from __future__ import annotations

from fastapi.testclient import TestClient
from service_kit import auth


def _allow(value: str) -> set[str]:
    return {m.strip() for m in value.split(",")}


def test_trace_answers_405_with_allow(client: TestClient) -> None:
    for path in ("/health", "/metrics", "/api/v1/verify/ABC", "/api/v1/audit/verify"):
        r = client.request("TRACE", path, headers=auth("admin"))
        assert r.status_code == 405, (path, r.text)
        assert _allow(r.headers["allow"]) == {"GET"}, path
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["code"] == "method_not_allowed" and "TRACE" in body["detail"]


def test_a_405_allows_every_method_of_the_path(client: TestClient) -> None:
    # GET and POST of these paths are separate routes; Allow names both, whatever the method refused
    for method in ("TRACE", "PUT", "DELETE", "PATCH", "OPTIONS"):
        for path in ("/api/v1/cases", "/api/v1/rulesets"):
            r = client.request(method, path, headers=auth("admin"))
            assert r.status_code == 405, (method, path)
            assert _allow(r.headers["allow"]) == {"GET", "POST"}, (method, path)
        r = client.request(method, "/api/v1/tasks/1/claim", headers=auth("admin"))
        assert (r.status_code, _allow(r.headers["allow"])) == (405, {"POST"})


def test_an_address_without_a_route_is_a_problem_in_chinese(client: TestClient) -> None:
    r = client.get("/api/v1/no-such-thing", headers=auth("admin"))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"] == "没有这个地址"
