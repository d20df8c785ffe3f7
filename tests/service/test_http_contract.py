"""What the HTTP API answers beside its operations' own work: a method a path does not support is a
405 naming in `Allow` every method the path supports, no case can take the address of another
endpoint, and a path naming what does not exist is a 404."""

from __future__ import annotations

from fastapi.testclient import TestClient
from service_kit import Env, auth, sample
from sqlalchemy import update

from store.records import RulesetVersion


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


def test_a_405_of_the_static_files_allows_what_they_answer(client: TestClient) -> None:
    for method in ("POST", "DELETE"):
        r = client.request(method, "/static/style.css")
        assert (r.status_code, _allow(r.headers["allow"])) == (405, {"GET", "HEAD"}), method
    assert client.get("/static/style.css").status_code == 200


def test_an_address_without_a_route_is_a_problem_in_chinese(client: TestClient) -> None:
    r = client.get("/api/v1/no-such-thing", headers=auth("admin"))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"] == "没有这个地址"


def test_get_of_the_multipart_endpoint_is_a_405_not_a_case_look_up(client: TestClient) -> None:
    r = client.get("/api/v1/cases/multipart", headers=auth("admin"))
    assert (r.status_code, _allow(r.headers["allow"])) == (405, {"POST"})
    r = client.request("OPTIONS", "/api/v1/cases/multipart", headers=auth("admin"))
    assert (r.status_code, _allow(r.headers["allow"])) == (405, {"POST"})
    # an id that merely starts like it is an ordinary case id
    assert client.get("/api/v1/cases/multipart-1", headers=auth("admin")).status_code == 404


def test_a_case_cannot_take_the_id_of_an_endpoint(client: TestClient) -> None:
    data = {**sample("dt-01-only-home-small"), "case_id": "multipart"}
    r = client.post("/api/v1/cases", json=data, headers=auth("applicant"))
    assert r.status_code == 422, r.text
    assert r.json()["problems"] == [{"path": "case_id", "message": "系统保留的编号"}]


def test_rolling_back_an_item_never_published_is_a_404(client: TestClient) -> None:
    r = client.post("/api/v1/rulesets/no-such-item/rollback", headers=auth("admin"))
    assert r.status_code == 404, r.text
    assert r.json()["code"] == "not_found" and "no-such-item" in r.json()["detail"]


def test_rolling_back_an_item_without_a_version_in_force_is_a_409(env: Env, client: TestClient) -> None:
    with env.services.sessions.begin() as session:
        session.execute(
            update(RulesetVersion)
            .where(RulesetVersion.item == "safety-permit-renewal")
            .values(status="rolled_back")
        )
    r = client.post("/api/v1/rulesets/safety-permit-renewal/rollback", headers=auth("admin"))
    assert r.status_code == 409, r.text
    assert "尚无生效" in r.json()["detail"]
